"""Rewards for RL post-training: the ``Reward`` protocol and the motions it scores.

A reward maps a batch of generated motions and their prompts to one score per motion plus an info
dict of logged terms: ``reward(motions, prompts) -> (scores [B], info)``. Scores of motions that are
not finite are NaN (the trainer drops those samples and counts them) — never 0, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np
import torch

from nomocap.motion.features import joints_to_features
from nomocap.motion.representation import Representation


@dataclass
class MotionBatch:
    """Generated motions as the policy emits them, with lazy conversions for rewards."""

    features: list[np.ndarray]  # de-normalised, in the policy's representation, [T_i, D]
    representation: Representation
    meta: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.features)

    @cached_property
    def valid(self) -> np.ndarray:
        return np.array([np.isfinite(f).all() for f in self.features])

    @cached_property
    def joints(self) -> list[np.ndarray | None]:
        return [self.representation.to_joints(f) if ok else None for f, ok in zip(self.features, self.valid)]

    @cached_property
    def guo_features(self) -> list[np.ndarray | None]:
        """HumanML3D features (what retrieval models read), whatever the policy's representation."""
        if self.representation.name == "guo":
            return [f if ok else None for f, ok in zip(self.features, self.valid)]
        return [joints_to_features(j, self.representation.skeleton) if j is not None and len(j) > 1 else None
                for j in self.joints]


class Reward(Protocol):
    name: str

    def __call__(self, motions: MotionBatch, prompts: list[str]) -> tuple[torch.Tensor, dict[str, float]]: ...


class DifferentiableReward(Reward, Protocol):
    """A reward that is also a differentiable function of the features (``rl/draft.py`` climbs its gradient)."""

    def differentiable(self, features: torch.Tensor, mask: torch.Tensor, prompts: list[str]) -> torch.Tensor: ...


class WeightedSum:
    """``sum_i w_i * r_i``; each term's batch mean is logged as ``reward/<name>``."""

    def __init__(self, terms: list[tuple[Reward, float]]):
        if not terms:
            raise ValueError("WeightedSum needs at least one reward")
        self.terms = terms
        self.name = "+".join(f"{w:g}*{r.name}" for r, w in terms)

    def __call__(self, motions: MotionBatch, prompts: list[str]) -> tuple[torch.Tensor, dict[str, float]]:
        total = torch.zeros(len(motions))
        info: dict[str, float] = {}
        for reward, weight in self.terms:
            scores, sub = reward(motions, prompts)
            total = total + weight * scores
            finite = torch.isfinite(scores)
            info[f"reward/{reward.name}"] = float(scores[finite].mean()) if finite.any() else float("nan")
            info.update({f"{reward.name}/{k}": v for k, v in sub.items()})
        info["invalid"] = float((~torch.isfinite(total)).sum())
        return total, info

    @property
    def without_gradient(self) -> list[str]:
        """The terms that are not differentiable functions of the features."""
        return [reward.name for reward, _ in self.terms if not hasattr(reward, "differentiable")]

    def differentiable(self, features: torch.Tensor, mask: torch.Tensor, prompts: list[str],
                       info: dict[str, float] | None = None) -> torch.Tensor:
        """``sum_i w_i * r_i`` as a function of de-normalised HumanML3D features ``[B, T, D]``; every term must have
        one (the retrieval reward and the physics penalties do; a user's reward may not). ``info``, when given,
        receives each term's batch mean as ``reward/<name>``, as ``__call__`` logs it."""
        if self.without_gradient:
            raise ValueError(f"reward term(s) {', '.join(self.without_gradient)} have no gradient: reward-gradient "
                             "fine-tuning (--method draft) needs every term's gradient (give it a differentiable(...) "
                             "method, or use --method ddpo or raft)")
        total = torch.zeros((), device=features.device)
        for reward, weight in self.terms:
            scores = reward.differentiable(features, mask, prompts)
            total = total + weight * scores
            if info is not None:
                info[f"reward/{reward.name}"] = float(scores.detach().mean())
        return total
