"""The low-frequency score function (rl/subspace.py) against scipy's DCT and the full Gaussian log-density."""

import math

import numpy as np
import pytest
import scipy.fft
import torch

from nomocap.diffusion.samplers import gaussian_log_prob
from nomocap.rl.subspace import SubspaceScore, dct_basis, projected_log_prob


def test_dct_basis_is_scipys_orthonormal_dct():
    basis = dct_basis(12, 5).numpy()
    oracle = scipy.fft.dct(np.eye(12), type=2, norm="ortho", axis=0)[:5].T  # row k of the DCT matrix
    np.testing.assert_allclose(basis, oracle, atol=1e-12)
    np.testing.assert_allclose(basis.T @ basis, np.eye(5), atol=1e-12)
    assert dct_basis(3, 8).shape == (3, 3)  # never more frequencies than frames
    with pytest.raises(ValueError):
        dct_basis(4, 0)


def test_the_full_basis_gives_the_full_gaussian_log_density():
    g = torch.Generator().manual_seed(0)
    x, mean = torch.randn(3, 10, 7, generator=g, dtype=torch.float64), torch.randn(3, 10, 7, generator=g,
                                                                                 dtype=torch.float64)
    std = torch.tensor(0.7, dtype=torch.float64)
    # An orthonormal change of basis keeps the squared norm: every frequency kept is the plain density.
    torch.testing.assert_close(projected_log_prob(x, mean, std, None, 10), gaussian_log_prob(x, mean, std))
    assert torch.equal(projected_log_prob(x, mean, torch.tensor(0.0), None, 4), torch.zeros(3, dtype=torch.float64))


def test_projected_log_prob_against_a_brute_force_projection():
    g = torch.Generator().manual_seed(1)
    x, mean = torch.randn(2, 16, 5, generator=g, dtype=torch.float64), torch.randn(2, 16, 5, generator=g,
                                                                                 dtype=torch.float64)
    mask = torch.ones(2, 16, dtype=torch.bool)
    mask[1, 11:] = False
    std = 0.4
    got = projected_log_prob(x, mean, torch.tensor(std, dtype=torch.float64), mask, 3)
    for b in range(2):
        residual = ((x[b] - mean[b]) / std * mask[b, :, None]).numpy()
        coords = scipy.fft.dct(residual, type=2, norm="ortho", axis=0)[:3]  # [3, 5]
        expected = np.mean(-0.5 * coords**2 - 0.5 * math.log(2 * math.pi)) - math.log(std)
        assert got[b].item() == pytest.approx(expected, abs=1e-10)
    # Noise in the fast frequencies alone leaves the projected density where zero noise puts it.
    fast = torch.from_numpy(scipy.fft.idct(np.pad(np.ones((13, 5)), ((3, 0), (0, 0))), type=2, norm="ortho", axis=0))
    torch.testing.assert_close(projected_log_prob(mean[:1] + fast[None], mean[:1], torch.tensor(std), None, 3),
                               projected_log_prob(mean[:1], mean[:1], torch.tensor(std), None, 3))


def test_subspace_score_changes_the_log_prob_only():
    class Fixed:
        stochastic = True

        def __len__(self):
            return 3

        def step(self, model_output, index, x, generator=None, prev_sample=None, prev_x0=None, mask=None,
                 noise=None):
            from nomocap.diffusion.samplers import StepOutput
            mean, std = 0.5 * x, torch.tensor(0.3)
            sample = prev_sample if prev_sample is not None else mean + std * noise
            return StepOutput(sample, mean, std, gaussian_log_prob(sample, mean, std, mask), model_output)

    wrapped = SubspaceScore(Fixed(), 2)
    x, noise = torch.randn(2, 6, 4), torch.randn(2, 6, 4)
    out, plain = wrapped.step(x, 0, x, noise=noise), Fixed().step(x, 0, x, noise=noise)
    assert torch.equal(out.prev_sample, plain.prev_sample) and len(wrapped) == 3 and wrapped.stochastic
    torch.testing.assert_close(out.log_prob, projected_log_prob(plain.prev_sample, plain.mean, plain.std, None, 2))
    with pytest.raises(ValueError, match="at least 1"):
        SubspaceScore(Fixed(), 0)
