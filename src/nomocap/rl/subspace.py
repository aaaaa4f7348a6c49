"""A lower-dimensional score function: the step's noise projected onto its slowest temporal frequencies.

A joint-space denoising step is a Gaussian action in frames × 263 dimensions; its score function
``(x_prev - mean) / std² · ∂mean/∂θ`` sums that many independent noise terms, of which the reward sees a few
(measured: the policy gradient of one 64-rollout batch is pure noise, `benchmarks/grad_snr.py`). Scoring only
the projection ``P (x_prev - mean)`` onto the ``K`` lowest temporal DCT frequencies keeps the expected
gradient's part that lies in that subspace, ``P E[A ε]``, and drops the noise of every other direction — a
biased estimator exactly by what the reward reads from the fast frequencies of a high-noise step.

``SubspaceScore`` wraps a sampler and replaces each step's ``log_prob``; the draw, the mean and the std are
the sampler's, so the sample phase and the re-scoring in the train phase stay consistent (ratio exactly 1
before an update). Latent models have no time axis to project: the trainer refuses the setting there.
"""

from __future__ import annotations

import math

import torch

from nomocap.diffusion.samplers import StepOutput, gaussian_log_prob


def dct_basis(frames: int, frequencies: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The first ``frequencies`` orthonormal DCT-II vectors of length ``frames``, as columns ``[frames, K]``."""
    if frequencies < 1:
        raise ValueError(f"frequencies must be at least 1, got {frequencies}")
    k = min(frequencies, frames)
    n = torch.arange(frames, dtype=dtype) + 0.5
    basis = torch.cos(math.pi / frames * n[:, None] * torch.arange(k, dtype=dtype)[None, :])
    basis[:, 0] /= math.sqrt(2)
    return basis * math.sqrt(2 / frames)


def projected_log_prob(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, mask: torch.Tensor | None,
                       frequencies: int) -> torch.Tensor:
    """``gaussian_log_prob`` of the projections ``Bᵀ x`` and ``Bᵀ mean`` (B: the DCT basis, time on axis 1).

    The projection is linear and orthonormal, so the projected step is ``N(Bᵀ mean, std²)`` per coordinate; padded
    frames (``mask [B, T]`` False) are zeroed before it. Zero where ``std == 0``, as the full Gaussian's.
    """
    if x.ndim != 3:
        raise ValueError(f"a temporal projection needs [batch, frames, features] samples, got shape {tuple(x.shape)}")
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    basis = dct_basis(x.shape[1], frequencies, dtype).to(x.device)
    keep = mask.to(dtype)[..., None] if mask is not None else 1.0

    def project(v: torch.Tensor) -> torch.Tensor:
        return torch.einsum("btf,tk->bkf", v.to(dtype) * keep, basis)

    return gaussian_log_prob(project(x), project(mean), std)


class SubspaceScore:
    """A sampler whose steps report the log-prob of their noise's ``frequencies`` slowest temporal components."""

    def __init__(self, sampler, frequencies: int):
        if frequencies < 1:
            raise ValueError(f"score_frequencies must be at least 1 (0 = the full score), got {frequencies}")
        self.sampler, self.frequencies = sampler, frequencies

    def __getattr__(self, name: str):
        return getattr(self.sampler, name)

    def __len__(self) -> int:
        return len(self.sampler)

    def step(self, model_output: torch.Tensor, index: int, x: torch.Tensor, generator: torch.Generator | None = None,
             prev_sample: torch.Tensor | None = None, prev_x0: torch.Tensor | None = None,
             mask: torch.Tensor | None = None, noise: torch.Tensor | None = None) -> StepOutput:
        out = self.sampler.step(model_output, index, x, generator, prev_sample, prev_x0, mask, noise)
        out.log_prob = projected_log_prob(out.prev_sample, out.mean, out.std, mask, self.frequencies)
        return out
