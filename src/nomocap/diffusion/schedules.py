"""Forward-process noise schedules: betas, cumulative alphas, and noising of clean samples."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class NoiseSchedule:
    betas: torch.Tensor  # [T] float64

    @classmethod
    def cosine(cls, num_steps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
        """Nichol & Dhariwal's cosine schedule (MDM's default)."""
        f = lambda t: math.cos((t / num_steps + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
        betas = [min(1 - f(i + 1) / f(i), max_beta) for i in range(num_steps)]
        return cls(torch.tensor(betas, dtype=torch.float64))

    @classmethod
    def linear(cls, num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
        scale = 1000 / num_steps
        return cls(torch.linspace(beta_start * scale, beta_end * scale, num_steps, dtype=torch.float64))

    @classmethod
    def named(cls, name: str, num_steps: int = 1000) -> NoiseSchedule:
        if name not in ("cosine", "linear"):
            raise ValueError(f"unknown noise schedule {name!r}: use cosine or linear")
        return getattr(cls, name)(num_steps)

    @property
    def num_steps(self) -> int:
        return len(self.betas)

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return torch.cumprod(1.0 - self.betas, dim=0)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise`` for integer timesteps ``t [B]``."""
        abar = self.alphas_cumprod.to(x0.device)[t].to(x0.dtype).view(-1, *([1] * (x0.ndim - 1)))
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def inference_timesteps(self, num_inference_steps: int) -> torch.Tensor:
        """Descending timesteps with "trailing" spacing: ``T-1, T-1-T/n, ...`` (starts from pure noise)."""
        if not 1 <= num_inference_steps <= self.num_steps:
            raise ValueError(f"steps must be in [1, {self.num_steps}], got {num_inference_steps}")
        ts = np.round(np.arange(self.num_steps, 0, -self.num_steps / num_inference_steps)).astype(np.int64) - 1
        return torch.from_numpy(ts)
