"""Does a fine-tuning setting climb its reward? Paired against an lr = 0 run (same prompts, same noise).

Iteration i of both runs draws the same prompts and noise, so ``reward(setting) - reward(lr=0)`` at
iteration i measures what the updates so far did, without the prompt-to-prompt spread.

Usage: python benchmarks/rl_paired.py --model RUN --data DIR --reward RUN|height [--iterations 16]
       [--set '{"lr": 0.001, "first_steps": 3}'] ...   (prints JSON: per-iteration gains per setting)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from nomocap.data.prompts import load_prompts
from nomocap.pipeline import MotionPipeline
from nomocap.rewards import MotionBatch
from nomocap.rewards.retrieval import RetrievalReward
from nomocap.rl.ddpo import DDPOConfig, DDPOTrainer

SAMPLING = {"prompts_per_iteration", "copies", "replay_fraction", "sampler", "steps", "eta", "guidance", "sample_batch",
            "antithetic", "first_steps"}


class RootHeight:
    name = "root_height"

    def __call__(self, motions: MotionBatch, prompts: list[str]) -> tuple[torch.Tensor, dict]:
        return torch.tensor([float(np.mean(f[:, 3])) for f in motions.guo_features]), {}


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The base, prompts, reward, preset and seed options this script and ``grad_snr.py`` share."""
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="corpus whose training captions are the prompts")
    parser.add_argument("--reward", required=True, help="a retrieval run, or 'height' (mean root height)")
    parser.add_argument("--contrastive", action="store_true", help="the contrastive retrieval reward")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seed", type=int, default=0)


def make_reward(args: argparse.Namespace, cache: Path):
    return RootHeight() if args.reward == "height" else RetrievalReward.from_run(args.reward, args.contrastive, cache)


def rewards(args: argparse.Namespace, overrides: dict, folder: Path) -> np.ndarray:
    settings = {"iterations": args.iterations, "replay_fraction": 0.0, "kl_coef": 0.0, "eval_every": 0,
                "seed": args.seed, **overrides}
    cfg = DDPOConfig.from_preset(args.preset, **settings)
    pipe = MotionPipeline.from_run(args.model, cache_dir=folder / ".text_cache")
    reward = make_reward(args, folder / ".text_cache")
    prompts = load_prompts(args.data, "train")
    DDPOTrainer(pipe, reward, prompts, cfg, folder, args.model, console=Console(quiet=True)).run()
    return np.array([json.loads(line)["reward_mean"] for line in (folder / "log.jsonl").read_text().splitlines()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_common_arguments(parser)
    parser.add_argument("--iterations", type=int, default=16)
    parser.add_argument("--set", action="append", default=[], help="JSON overrides of [finetune]; repeatable")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out, baselines = {"settings": []}, {}
        for i, text in enumerate(args.set or ["{}"]):
            overrides = json.loads(text)
            # The lr = 0 twin shares every setting that decides the prompts and the noise.
            sampling = {k: v for k, v in sorted(overrides.items())
                        if k in SAMPLING and (k != "first_steps" or overrides.get("antithetic"))}
            key = json.dumps(sampling)
            if key not in baselines:
                baselines[key] = rewards(args, {**sampling, "lr": 0.0}, Path(tmp) / f"baseline{len(baselines)}")
            baseline = baselines[key]
            gain = rewards(args, overrides, Path(tmp) / f"setting{i}") - baseline
            half = gain[len(gain) // 2 :]
            out["settings"].append({"overrides": overrides, "baseline_reward": baseline.round(4).tolist(),
                                    "gain": gain.round(4).tolist(),
                                    "mean_gain_second_half": round(float(half.mean()), 4),
                                    "iterations_up": int((gain[1:] > 0).sum()), "iterations": len(gain) - 1})
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
