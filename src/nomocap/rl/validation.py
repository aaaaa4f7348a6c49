"""Held-out validation for post-training: the reward on unseen prompts, and the adapter that scored best.

Every trainer keeps the best adapter by this score, not the last one; the untrained (zero) adapter — the
base model — is offered first, so post-training never hands back a model that scores below its base.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from nomocap.data.prompts import Prompt
from nomocap.data.synth.judge import judge_batch
from nomocap.diffusion.samplers import Sampler
from nomocap.pipeline import MotionPipeline
from nomocap.rewards import MotionBatch, Reward


def spread_prompts(prompts: list[Prompt], n: int) -> list[Prompt]:
    """``n`` distinct prompts spread evenly over the list (a split lists its motions' captions in id order,
    often one action after another: its first ``n`` captions would cover a few actions only)."""
    first: dict[str, Prompt] = {}
    for p in prompts:
        first.setdefault(p.text, p)
    distinct = list(first.values())
    if len(distinct) <= n:
        return distinct
    return [distinct[i] for i in np.linspace(0, len(distinct) - 1, n).round().astype(int)]


@torch.no_grad()
def validation_reward(pipe: MotionPipeline, reward: Reward, prompts: list[Prompt], sampler: Sampler,
                      guidance: float, generator: torch.Generator) -> float:
    """The mean reward of one sample per held-out prompt (NaN without prompts; non-finite motions skipped)."""
    if not prompts:
        return float("nan")
    texts = [p.text for p in prompts]
    samples = pipe.sample(texts, [p.frames for p in prompts], sampler, guidance, generator)
    scores, _ = reward(MotionBatch(pipe.to_features(samples), pipe.representation), texts)
    return float(torch.nanmean(scores))


@torch.no_grad()
def validation_judge(pipe: MotionPipeline, prompts: list[Prompt], sampler: Sampler, guidance: float,
                     generator: torch.Generator) -> float:
    """The programmatic judge's accuracy on one sample per held-out prompt (its attributes read from the
    kinematics, no learned model: what the reward is meant to stand for)."""
    texts = [p.text for p in prompts]
    samples = pipe.sample(texts, [p.frames for p in prompts], sampler, guidance, generator)
    return float(judge_batch(pipe.to_joints(samples), texts)["accuracy"])


class BestAdapter:
    """Calls ``save`` whenever a finite validation score beats every score offered before it."""

    def __init__(self, save: Callable[[], None], best: float = -math.inf):
        self.save, self.best = save, best

    def offer(self, score: float) -> bool:
        if not np.isfinite(score) or score <= self.best:
            return False
        self.best = score
        self.save()
        return True
