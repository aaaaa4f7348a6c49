"""The PPO clipped surrogate on per-step log-probabilities, and a Gaussian KL to the base policy (pure)."""

from __future__ import annotations

import torch


def clipped_surrogate(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor,
                      clip_range: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``mean(max(-A r, -A clip(r, 1-e, 1+e)))`` with ``r = exp(log_prob - old_log_prob)``.

    Also returns DDPO's diagnostics: approx-KL ``0.5 mean((log r)^2)`` and the clipped fraction.
    """
    log_ratio = log_prob - old_log_prob
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = torch.maximum(unclipped, clipped).mean()
    info = {
        "approx_kl": 0.5 * (log_ratio.detach() ** 2).mean(),
        "clipfrac": ((ratio.detach() - 1.0).abs() > clip_range).float().mean(),
        "ratio": ratio.detach().mean(),
    }
    return loss, info


def gaussian_kl(mean_p: torch.Tensor, mean_q: torch.Tensor, std: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
    """KL(N(mean_p, std^2) || N(mean_q, std^2)) per sample, averaged over elements (shared std: a squared
    distance of the means)."""
    kl = (mean_p - mean_q) ** 2 / (2 * std**2)
    if mask is None:
        return kl.flatten(1).mean(1)
    m = mask.to(kl.dtype).view(mask.shape + (1,) * (kl.ndim - mask.ndim))
    return (kl * m).flatten(1).sum(1) / m.expand_as(kl).flatten(1).sum(1).clamp_min(1)
