"""Which judged attributes does the reward prefer? Best-of-n selection, attribute by attribute.

For every test caption of ``--data`` the base draws ``--n`` motions; the reward picks one. Per judged attribute
(``walk.direction``, ``kneel.knee``, …) the script compares the pick's pass rate with a random draw's (the
mean over the n draws), paired caption by caption, and counts how often *any* draw passes (reach at n).
A positive ``selection_gain`` means the reward prefers motions that pass the attribute: RL from this reward
should move it up; a negative one, down. With ``--results`` (an experiment's ``results.json``) it puts RL's own
per-attribute paired difference beside it, and their correlation over attributes.

With ``--twin W`` the pick is by ``cos(prompt) - W * cos(its swapped twin)`` ("left" <-> "right", …; captions
without such a word keep the plain cosine): does a reward that is told what the wrong side looks like pick
motions that follow the side better? ``--precision-only`` keeps the captions that have a swapped twin.

Usage: python benchmarks/reward_vs_judge.py --model RUN --data DIR --reward RUN [--n 4] [--limit 0]
       [--twin 0] [--precision-only] [--results DIR/results.json] [--seed 0]     (prints JSON)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from nomocap.data.prompts import load_prompts
from nomocap.data.synth.judge import attribute_name, judge_motion
from nomocap.eval.precision import precision_axis, precision_confusion, swap_instruction
from nomocap.eval.protocol import judge_difference
from nomocap.pipeline import MotionPipeline
from nomocap.rewards import MotionBatch
from nomocap.rewards.retrieval import RetrievalReward


class TwinContrast:
    """``reward(prompt) - weight * reward(the prompt's swapped twin)`` for captions that have a twin."""

    def __init__(self, reward, weight: float):
        self.reward, self.weight, self.name = reward, weight, f"{reward.name}-{weight:g}*twin"

    def __call__(self, motions: MotionBatch, prompts: list[str]) -> tuple[torch.Tensor, dict]:
        own, info = self.reward(motions, prompts)
        twin, _ = self.reward(motions, [swap_instruction(p) for p in prompts])
        has_twin = torch.tensor([precision_axis(p) is not None for p in prompts], dtype=own.dtype)
        return own - self.weight * has_twin * twin, info


def draws_and_scores(pipe: MotionPipeline, reward, pairs: list[tuple[str, int]], n: int, seed: int,
                     batch: int = 64) -> tuple[list[list[np.ndarray]], np.ndarray]:
    """``n`` motions (joints) per caption, as n lists over captions, and their rewards ``[captions, n]``."""
    gen, sampler = torch.Generator().manual_seed(seed), pipe.sampler("dpm++", 10)
    per_caption: list[list[np.ndarray]] = []
    scores = []
    per_call = max(1, batch // n)
    for i in range(0, len(pairs), per_call):
        chunk = pairs[i : i + per_call]
        texts = [t for t, _ in chunk for _ in range(n)]
        drawn = pipe.sample(texts, [f for _, f in chunk for _ in range(n)], sampler, 2.5, gen)
        s, _ = reward(MotionBatch(pipe.to_features(drawn), pipe.representation), texts)
        scores.append(torch.as_tensor(s, dtype=torch.float64).view(len(chunk), n).numpy())
        joints = pipe.to_joints(drawn)
        per_caption += [joints[c * n : (c + 1) * n] for c in range(len(chunk))]
    return [[m[d] for m in per_caption] for d in range(n)], np.concatenate(scores)


def reach(captions: list[str], draws: list[list[np.ndarray]]) -> dict[str, float]:
    """Per attribute name: the share of captions with at least one of the draws passing it."""
    hits: dict[str, list[bool]] = {}
    for i, caption in enumerate(captions):
        verdicts = [judge_motion(d[i], caption) for d in draws]
        for key in verdicts[0]:
            hits.setdefault(attribute_name(key), []).append(any(v[key] for v in verdicts))
    return {name: float(np.mean(h)) for name, h in hits.items()}


def compare(pipe: MotionPipeline, reward, pairs: list[tuple[str, int]], n: int, seed: int) -> dict:
    """The judge of a random draw against the reward's pick of ``n``, overall and per attribute."""
    draws, scores = draws_and_scores(pipe, reward, pairs, n, seed)
    captions = [t for t, _ in pairs]
    best = [draws[int(d)][i] for i, d in enumerate(np.nan_to_num(scores, nan=-np.inf).argmax(1))]
    # judge_difference(best, draws): its "finetuned" side is the mean over the draws, i.e. a random draw.
    compared = judge_difference(captions, best, draws)
    at_n = reach(captions, draws)
    per_attribute = {name: {"random_draw": a["finetuned"], "reward_pick": a["base"], "selection_gain": -a["delta"],
                            "ci": a["ci"], "reach_at_n": at_n[name], "count": a["count"]}
                     for name, a in compared["per_attribute"].items()}
    # Side/direction attributes judged against the caption and its twin (followed / opposite / both / neither);
    # a random draw's shares are those of every draw together.
    sides = {"random_draw": precision_confusion([m for d in draws for m in d], captions * n)["shares"]["all"],
             "reward_pick": precision_confusion(best, captions)["shares"]["all"]}
    return {"judge": {"random_draw": compared["finetuned"], "reward_pick": compared["base"],
                      "selection_gain": -compared["delta"], "ci": compared["ci"]},
            "side_attributes": sides,
            "per_attribute": per_attribute}


def beside_rl(out: dict, results: Path) -> None:
    """Adds RL's per-attribute paired difference (an experiment's results.json) and its correlation."""
    rl = json.loads(results.read_text())["judge_paired"]["per_attribute"]
    per_attribute = out["per_attribute"]
    shared = [k for k in per_attribute if k in rl and rl[k]["count"] > 1]
    for k in shared:
        per_attribute[k]["rl_delta"] = rl[k]["delta"]
    gain = np.array([per_attribute[k]["selection_gain"] for k in shared])
    moved = np.array([rl[k]["delta"] for k in shared])
    varied = (np.abs(gain) > 0) | (np.abs(moved) > 0)
    out["rl_vs_selection_correlation"] = float(np.corrcoef(gain[varied], moved[varied])[0, 1]) \
        if varied.sum() > 2 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="corpus whose test captions are judged")
    parser.add_argument("--reward", required=True, help="a retrieval run")
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--limit", type=int, default=0, help="at most this many captions (0: all)")
    parser.add_argument("--twin", type=float, default=0.0, help="weight of the swapped twin's cosine")
    parser.add_argument("--precision-only", action="store_true", help="only captions with a swapped twin")
    parser.add_argument("--results", help="an experiment's results.json: RL's per-attribute moves beside")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.n < 2:
        parser.error("--n must be at least 2 (a selection needs a choice)")
    pairs = [(p.text, p.frames) for p in load_prompts(args.data, "test")]
    pairs = [p for p in pairs if precision_axis(p[0])] if args.precision_only else pairs
    pairs = pairs[: args.limit] if args.limit else pairs
    with tempfile.TemporaryDirectory() as tmp:
        pipe = MotionPipeline.from_run(args.model, cache_dir=Path(tmp) / ".text_cache")
        reward = RetrievalReward.from_run(args.reward, cache_dir=Path(tmp) / ".text_cache")
        reward = TwinContrast(reward, args.twin) if args.twin else reward
        out = {"settings": {"n": args.n, "captions": len(pairs), "seed": args.seed, "twin": args.twin},
               **compare(pipe, reward, pairs, args.n, args.seed)}
    if args.results:
        beside_rl(out, Path(args.results))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
