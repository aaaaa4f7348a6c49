"""Classifier-free guidance in one batched forward: ``uncond + s * (cond - uncond)``."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def guided_prediction(model: Callable[..., torch.Tensor], x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor,
                      null: torch.Tensor, scale: float, **kwargs) -> torch.Tensor:
    """Run ``model(x, t, cond, **kwargs)`` once on the doubled batch ``[null; cond]`` and combine.

    ``scale == 1`` is the conditional prediction alone (one forward, no doubling).
    Tensors in ``kwargs`` with a batch dimension (e.g. a padding mask) are doubled too.
    """
    if scale == 1.0:
        return model(x, t, cond, **kwargs)
    doubled = {k: torch.cat([v, v]) if isinstance(v, torch.Tensor) and v.shape[:1] == x.shape[:1] else v
               for k, v in kwargs.items()}
    out = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([null.expand_as(cond), cond]), **doubled)
    uncond, conditional = out.chunk(2)
    return uncond + scale * (conditional - uncond)


def check_guidance(scale: float) -> float:
    """``scale`` if it is a guidance scale (finite, >= 0); a clear error otherwise."""
    if not (isinstance(scale, int | float) and math.isfinite(scale) and scale >= 0):
        raise ValueError(f"guidance {scale}: give a finite scale >= 0 (1: no guidance, the conditional model "
                         "alone; the presets use 2.5)")
    return scale
