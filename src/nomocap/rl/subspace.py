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

from nomocap.diffusion.samplers import StepOutput

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


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
    """Per-sample mean over projected coordinates of ``log N(c; 0, 1) - log std``, ``c = Bᵀ (x - mean) / std``.

    ``x`` is ``[B, T, F]`` (time on axis 1); padded frames (``mask [B, T]`` False) are zeroed before the
    projection. Zero where ``std == 0``, as the full Gaussian's.
    """
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    x, mean, std = x.to(dtype), mean.to(dtype), torch.as_tensor(std, dtype=dtype, device=x.device)
    if not bool(std > 0):
        return torch.zeros(x.shape[0], dtype=dtype, device=x.device)
    if x.ndim != 3:
        raise ValueError(f"a temporal projection needs [batch, frames, features] samples, got shape {tuple(x.shape)}")
    residual = (x - mean) / std
    if mask is not None:
        residual = residual * mask.to(dtype)[..., None]
    coords = torch.einsum("btf,tk->bkf", residual, dct_basis(x.shape[1], frequencies, dtype).to(x.device))
    return (-0.5 * coords**2 - _LOG_SQRT_2PI).flatten(1).mean(1) - torch.log(std)


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
