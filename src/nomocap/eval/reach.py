"""Reach: does a model sample a passing motion for a caption *at all*, in many draws?

Prompt-only RL re-weights what the model already samples; a caption none of whose draws passes the
programmatic judge is out of its reach, and fine-tuning on it is not expected to teach it (Table 2).
Measuring this before fine-tuning is cheap: one batch of draws per caption.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import Progress

from nomocap.data.humanml import CorpusError
from nomocap.data.prompts import load_prompts
from nomocap.data.synth.captions import parse_caption
from nomocap.data.synth.judge import SKELETON as JUDGE_SKELETON
from nomocap.data.synth.judge import judge_motion
from nomocap.eval.protocol import generate_joints
from nomocap.pipeline import MotionPipeline


def best_of_n(pipe: MotionPipeline, pairs: list[tuple[str, int]], samples: int = 64, sampler: str = "dpm++",
              steps: int = 10, guidance: float = 2.5, seed: int = 0, console: Console | None = None) -> dict:
    """For each ``(caption, frames)``: how many of ``samples`` draws pass every judged attribute.

    ``reach`` is the share of captions with at least one passing draw, ``sample_pass_rate`` the mean share
    of passing draws; ``passes`` the count per caption, ``unreached`` the captions with none.
    """
    gen = torch.Generator().manual_seed(seed)
    passed = []
    with Progress(console=console or Console(), transient=True, disable=console is None) as progress:
        task = progress.add_task(f"best of {samples}", total=len(pairs))
        for caption, frames in pairs:
            joints = generate_joints(pipe, [(caption, frames)] * samples, sampler, steps, guidance, generator=gen)
            passed.append([bool(v) and all(v.values()) for v in (judge_motion(j, caption) for j in joints)])
            progress.advance(task)
    per_caption = np.array([any(p) for p in passed])
    return {"reach": float(per_caption.mean()), "sample_pass_rate": float(np.mean([np.mean(p) for p in passed])),
            "captions": len(pairs), "samples": samples, "passes": [int(sum(p)) for p in passed],
            "unreached": [c for (c, _), hit in zip(pairs, per_caption) if not hit]}


def reach_pairs(source: str | Path, split: str = "test", category: str | None = None, captions: int = 16,
                seed: int = 0, match: str | None = None, skeleton: str = JUDGE_SKELETON) -> list[tuple[str, int]]:
    """``captions`` distinct captions of a split (of one class; matching the regular expression ``match``) that the
    judge can check, each with its first motion's length: a seeded subset in the split's order. Refused where the
    judge reads none of them (free text) or cannot judge ``skeleton``'s motions."""
    if captions < 1:
        raise ValueError(f"--captions must be at least 1, got {captions}")
    try:
        wanted = re.compile(match or "", re.IGNORECASE)
    except re.error as err:
        raise ValueError(f"--match {match!r} is not a regular expression: {err}") from None
    if skeleton != JUDGE_SKELETON:
        raise ValueError(f"the programmatic judge reads {JUDGE_SKELETON} motions only, not {skeleton}'s: reach "
                         "cannot be judged for this model")
    frames: dict[str, int] = {}
    for prompt in load_prompts(source, split, category):
        if wanted.search(prompt.text):
            frames.setdefault(prompt.text, prompt.frames)
    if not frames:
        raise CorpusError(f"{source}: no {split} captions match {match!r}")
    pairs = [(text, n) for text, n in frames.items() if parse_caption(text)]
    if not pairs:
        raise CorpusError(f"{source}: the programmatic judge reads the embedded corpus's captions, not these: "
                          "reach cannot be judged (give a corpus made by `nomocap data synth`)")
    if captions < len(pairs):
        keep = np.random.default_rng(seed).choice(len(pairs), captions, replace=False)
        pairs = [pairs[i] for i in sorted(keep)]
    return pairs
