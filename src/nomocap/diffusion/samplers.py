"""Samplers that return, for every step, the Gaussian they drew from: DDPO's log-probability needs it.

Every sampler walks ``timesteps`` (descending) and at step ``i`` maps ``x`` and the model's clean-sample
prediction (``x0``; eps-predictions are converted) to ``x_prev = mean + std * noise``. ``step`` returns
``StepOutput(prev_sample, mean, std, log_prob, x0)``; given ``prev_sample`` it *re-scores* that sample
instead of drawing one (the importance-sampling ratio of DDPO). ``log_prob`` is the Gaussian
log-density averaged over valid (unpadded) frames and feature dims, computed in float32 or wider.
A step with ``std == 0`` (the last one, to sigma 0) is deterministic: ``trainable`` is False there.

- ``DDIMSampler(eta)``: DDIM; ``eta=1`` is DDPM's ancestral sampler on the same timesteps.
- ``DDPMSampler``: ancestral sampling with the posterior ``q(x_prev | x_t, x0)`` (DDIM eta=1, written out).
- ``DPMSolverSampler(sde=False)``: DPM-Solver++ 2M (deterministic) or its SDE variant (``sde=True``);
  second order from the second step, first order at the first and last steps, as diffusers does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from nomocap.diffusion.schedules import NoiseSchedule

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass
class StepOutput:
    prev_sample: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor  # scalar tensor (the same for every element)
    log_prob: torch.Tensor  # [B]
    x0: torch.Tensor  # the clean-sample prediction used (state for multistep solvers)

    @property
    def trainable(self) -> bool:
        return bool(self.std > 0)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                      mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample mean over elements of ``log N(x; mean, std^2)``; ``mask [B, T]`` marks valid frames.

    Computed in float64 when the input is float64, else float32, whatever the model's dtype. Zero where
    ``std == 0`` (a deterministic step has no density to train on).
    """
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    x, mean, std = x.to(dtype), mean.to(dtype), torch.as_tensor(std, dtype=dtype, device=x.device)
    if not bool(std > 0):
        return torch.zeros(x.shape[0], dtype=dtype, device=x.device)
    lp = -((x - mean) ** 2) / (2 * std**2) - torch.log(std) - _LOG_SQRT_2PI
    if mask is None:
        return lp.flatten(1).mean(1)
    m = mask.to(dtype).view(mask.shape + (1,) * (lp.ndim - mask.ndim))
    return (lp * m).flatten(1).sum(1) / (m.expand_as(lp).flatten(1).sum(1)).clamp_min(1)


def _draw(mean: torch.Tensor, std: torch.Tensor, generator: torch.Generator | None,
          prev_sample: torch.Tensor | None, noise: torch.Tensor | None = None) -> torch.Tensor:
    if prev_sample is not None:
        return prev_sample
    if not bool(std > 0):
        return mean
    if noise is None:
        # Drawn where the generator lives (CPU by default), then moved: a CPU seed gives the same noise on a GPU.
        where = generator.device if generator is not None else mean.device
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=where)
    return mean + std * noise.to(mean)


class Sampler:
    """Shared timestep bookkeeping and prediction conversion."""

    name = "base"
    stochastic = True

    def __init__(self, schedule: NoiseSchedule, num_steps: int = 10, prediction: str = "x0"):
        if prediction not in ("x0", "eps"):
            raise ValueError(f"prediction must be x0 or eps, got {prediction!r}")
        self.schedule, self.prediction = schedule, prediction
        self.timesteps = schedule.inference_timesteps(num_steps)
        self.alphas_cumprod = schedule.alphas_cumprod

    def __len__(self) -> int:
        return len(self.timesteps)

    def abar(self, index: int) -> torch.Tensor:
        """``abar`` at step ``index``; 1 (clean) past the last step."""
        if index >= len(self.timesteps):
            return torch.tensor(1.0, dtype=torch.float64)
        return self.alphas_cumprod[self.timesteps[index]]

    def to_x0(self, model_output: torch.Tensor, x: torch.Tensor, index: int) -> torch.Tensor:
        if self.prediction == "x0":
            return model_output
        abar = self.abar(index).to(x.dtype)
        return (x - (1 - abar).sqrt() * model_output) / abar.sqrt()

    def step(self, model_output: torch.Tensor, index: int, x: torch.Tensor, generator: torch.Generator | None = None,
             prev_sample: torch.Tensor | None = None, prev_x0: torch.Tensor | None = None,
             mask: torch.Tensor | None = None, noise: torch.Tensor | None = None) -> StepOutput:
        """One step; ``noise`` (standard normal, ``x``'s shape) replaces the generator's draw when given."""
        x0 = self.to_x0(model_output, x, index)
        mean, std = self.mean_std(x0, index, x, prev_x0)
        std = torch.as_tensor(std, dtype=mean.dtype)
        sample = _draw(mean, std, generator, prev_sample, noise)
        return StepOutput(sample, mean, std, gaussian_log_prob(sample, mean, std, mask), x0)

    def mean_std(self, x0, index, x, prev_x0):  # pragma: no cover - abstract
        raise NotImplementedError


class DDIMSampler(Sampler):
    name = "ddim"

    def __init__(self, schedule: NoiseSchedule, num_steps: int = 10, eta: float = 1.0, prediction: str = "x0"):
        super().__init__(schedule, num_steps, prediction)
        self.eta = eta
        self.stochastic = eta > 0

    def mean_std(self, x0, index, x, prev_x0):
        abar_t, abar_prev = self.abar(index).to(x.dtype), self.abar(index + 1).to(x.dtype)
        eps = (x - abar_t.sqrt() * x0) / (1 - abar_t).sqrt()
        variance = (1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)
        std = self.eta * variance.clamp_min(0).sqrt()
        mean = abar_prev.sqrt() * x0 + (1 - abar_prev - std**2).clamp_min(0).sqrt() * eps
        return mean, std


class DDPMSampler(Sampler):
    """Ancestral sampling: the posterior of the forward process between consecutive sampled timesteps."""

    name = "ddpm"

    def mean_std(self, x0, index, x, prev_x0):
        abar_t, abar_prev = self.abar(index).to(x.dtype), self.abar(index + 1).to(x.dtype)
        alpha = abar_t / abar_prev  # the effective one-step alpha between the two timesteps
        beta = 1 - alpha
        mean = (abar_prev.sqrt() * beta / (1 - abar_t)) * x0 + (alpha.sqrt() * (1 - abar_prev) / (1 - abar_t)) * x
        std = (beta * (1 - abar_prev) / (1 - abar_t)).clamp_min(0).sqrt()
        return mean, std


class DPMSolverSampler(Sampler):
    """DPM-Solver++ (data prediction), 2M multistep; ``sde=True`` gives the stochastic SDE-DPM-Solver++."""

    def __init__(self, schedule: NoiseSchedule, num_steps: int = 10, sde: bool = False, prediction: str = "x0"):
        super().__init__(schedule, num_steps, prediction)
        self.sde = sde
        self.stochastic = sde
        self.name = "sde-dpm++" if sde else "dpm++"
        abar = torch.stack([self.abar(i) for i in range(len(self.timesteps))])
        sigmas = ((1 - abar) / abar).sqrt()
        self.sigmas = torch.cat([sigmas, sigmas.new_zeros(1)])  # the last step lands on sigma 0

    def _alpha_sigma(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.sigmas[index]
        alpha = 1 / (s**2 + 1).sqrt()
        return alpha, s * alpha

    def _lambda(self, index: int) -> torch.Tensor:
        alpha, sigma = self._alpha_sigma(index)
        return torch.log(alpha) - torch.log(sigma)

    def first_order(self, index: int) -> bool:
        return index == 0 or index == len(self.timesteps) - 1

    def mean_std(self, x0, index, x, prev_x0):
        if prev_x0 is None and index > 0 and not self.first_order(index):
            raise ValueError("DPM-Solver++ 2M needs the previous step's x0 prediction (prev_x0)")
        alpha_t, sigma_t = (v.to(x.dtype) for v in self._alpha_sigma(index + 1))
        alpha_s, sigma_s = (v.to(x.dtype) for v in self._alpha_sigma(index))
        last = index + 1 == len(self.timesteps)
        # The final step to sigma 0: lambda is infinite, exp(-h) is 0.
        h = None if last else (self._lambda(index + 1) - self._lambda(index)).to(x.dtype)
        d = x0
        if not self.first_order(index):
            h_prev = (self._lambda(index) - self._lambda(index - 1)).to(x.dtype)
            r0 = h_prev / h
            d = x0 + 0.5 * (x0 - prev_x0) / r0
        if last:
            return alpha_t * x0, torch.zeros((), dtype=x.dtype)
        if self.sde:
            mean = (sigma_t / sigma_s * torch.exp(-h)) * x + alpha_t * (1 - torch.exp(-2 * h)) * d
            std = sigma_t * (1 - torch.exp(-2 * h)).clamp_min(0).sqrt()
        else:
            mean = (sigma_t / sigma_s) * x - alpha_t * (torch.exp(-h) - 1) * d
            std = torch.zeros((), dtype=x.dtype)
        return mean, std


SAMPLERS = ("ddpm", "ddim", "dpm++", "sde-dpm++")


def make_sampler(name: str, schedule: NoiseSchedule, num_steps: int = 10, eta: float = 1.0,
                 prediction: str = "x0") -> Sampler:
    """``ddpm``, ``ddim`` (with ``eta``), ``dpm++`` (2M, deterministic) or ``sde-dpm++``."""
    if name == "ddpm":
        return DDPMSampler(schedule, num_steps, prediction)
    if name == "ddim":
        return DDIMSampler(schedule, num_steps, eta, prediction)
    if name in ("dpm++", "dpmsolver++"):
        return DPMSolverSampler(schedule, num_steps, sde=False, prediction=prediction)
    if name in ("sde-dpm++", "sde-dpmsolver++"):
        return DPMSolverSampler(schedule, num_steps, sde=True, prediction=prediction)
    raise ValueError(f"unknown sampler {name!r}: choose one of {', '.join(SAMPLERS)}")
