"""Which way do the retrieval models' slopes point, on the data and off it? Motions edited by hand, re-scored.

For the test captions of ``--data`` that contain ``--word`` (``carr`` for carrying, ``clap``), two sets of
motions are edited by ``--amounts`` metres — the split's real motions and the base's own samples for the same
captions (``--model``, one draw each) — and each edited set is scored by every ``--scorer`` (retrieval or
evaluator runs): the mean cosine of motion and caption. Edits: ``raise`` lifts both wrists by the amount (the
elbows by half), ``apart`` moves the wrists apart along the hip axis (negative: together).

Why: DRaFT follows the reward model's gradient at the policy's samples, which lie far from the reward's training
data. On the embedded corpus, h -> k, it lifted a carry's hands and kept a clap's hands apart, against the
programmatic judge (docs/results.md); this measures the slope there and on the real motions.

Usage: python benchmarks/reward_slope.py --model RUN --data DIR --scorer RUN [--scorer RUN] [--word carr]
       [--edit raise] [--amounts -0.12,0,0.12] [--seed 0]     (prints JSON)
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from nomocap.checkpoint import load_config
from nomocap.data.synth.judge import L_HIP, L_WRIST, R_HIP, R_WRIST
from nomocap.eval.protocol import EvalSet, generate_joints
from nomocap.motion.features import features_to_joints, joints_to_features
from nomocap.pipeline import MotionPipeline
from nomocap.retrieval.train import EmbeddingModel

L_ELBOW, R_ELBOW = 18, 19


def edited(joints: np.ndarray, edit: str, amount: float) -> np.ndarray:
    """``joints [T, 22, 3]`` (Y up) with the wrists moved by ``amount`` metres (a copy)."""
    j = joints.copy()
    if edit == "raise":
        j[:, [L_WRIST, R_WRIST], 1] += amount
        j[:, [L_ELBOW, R_ELBOW], 1] += amount / 2
    elif edit == "apart":
        across = j[:, R_HIP] - j[:, L_HIP]
        across[:, 1] = 0
        across /= np.linalg.norm(across, axis=-1, keepdims=True)
        j[:, L_WRIST] -= amount / 2 * across
        j[:, R_WRIST] += amount / 2 * across
    else:
        raise ValueError(f"unknown edit {edit!r}: raise or apart")
    return j


def mean_cosine(model: EmbeddingModel, features: list[np.ndarray], captions: list[str]) -> float:
    motion = torch.nn.functional.normalize(model.embed_motions(features), dim=-1)
    text = torch.nn.functional.normalize(model.embed_texts(captions), dim=-1)
    return float((motion * text).sum(-1).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--scorer", action="append", required=True, help="a retrieval or evaluator run (repeatable)")
    ap.add_argument("--word", default="carr")
    ap.add_argument("--edit", default="raise", choices=["raise", "apart"])
    ap.add_argument("--amounts", default="-0.12,-0.06,0,0.06,0.12")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    scorers = {}
    for run in args.scorer:
        scorers[run] = EmbeddingModel.load(run, load_config(run)["kind"])
    split = EvalSet(args.data, "test", next(iter(scorers.values())))
    chosen = [(item, feats) for item, feats in zip(split.items, split.features)
              if any(args.word in c.text.lower() for c in item.texts)]
    if not chosen:
        raise SystemExit(f"no test caption of {args.data} contains {args.word!r}")
    captions = [next(c.text for c in item.texts if args.word in c.text.lower()) for item, _ in chosen]
    real = [features_to_joints(feats, split.skeleton) for _, feats in chosen]
    pipe = MotionPipeline.from_run(args.model)
    sampled = generate_joints(pipe, [(c, len(f)) for c, (_, f) in zip(captions, chosen)], seed=args.seed)

    amounts = [float(a) for a in args.amounts.split(",")]
    result = {"word": args.word, "edit": args.edit, "captions": len(captions), "amounts": amounts}
    for name, motions in (("real", real), ("base_samples", sampled)):
        result[name] = {}
        for amount in amounts:
            feats = [joints_to_features(edited(j, args.edit, amount), split.skeleton) for j in motions]
            for run, model in scorers.items():
                result[name].setdefault(run, []).append(round(mean_cosine(model, feats, captions), 4))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
