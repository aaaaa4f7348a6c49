"""10-step DPM-Solver++ vs 100- and 1000-step DDPM: seconds and judge accuracy, measured in one run.

Usage: python benchmarks/samplers.py --model RUN --data DIR [--limit 64]   (prints JSON)
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from nomocap.eval.protocol import judge_accuracy
from nomocap.pipeline import MotionPipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    pipe = MotionPipeline.from_run(args.model)
    results = []
    for sampler, steps in (("dpm++", 10), ("ddpm", 100), ("ddpm", 1000)):
        tic = time.perf_counter()
        judged = judge_accuracy(pipe, args.data, "test", args.limit, sampler, steps, seed=args.seed)
        results.append({"sampler": sampler, "steps": steps, "seconds": round(time.perf_counter() - tic, 2),
                        "judge_accuracy": round(judged["accuracy"], 4), "attributes": judged["attributes"]})
    base = results[0]["seconds"]
    for r in results:
        r["time_vs_dpm10"] = round(r["seconds"] / base, 2)
    print(json.dumps({"model": args.model, "captions": args.limit, "results": results}, indent=1))


if __name__ == "__main__":
    main()
