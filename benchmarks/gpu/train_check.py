"""Training on a device, checked (for a session lent a GPU): pretraining (mdm, mld), the retrieval model and
the evaluator on a tiny synthetic corpus — each uninterrupted, and killed half-way then resumed — on the
given device and on the CPU. Prints JSON: the largest weight difference between the resumed and the
uninterrupted run (exact resume: 0 on the CPU), and between the device's and the CPU's weights.

    python benchmarks/gpu/train_check.py --device cuda --out /tmp/train_check
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from nomocap.checkpoint import load_tensors
from nomocap.data.synth.corpus import synthesize
from nomocap.pretrain import PretrainConfig, pretrain
from nomocap.retrieval.train import EmbeddingTrainConfig, train_embedding_model

STEPS = 12


def largest_difference(a: Path, b: Path) -> float:
    x, y = load_tensors(a / "model.safetensors"), load_tensors(b / "model.safetensors")
    return max(float((x[k].double() - y[k].double()).abs().max()) for k in x if x[k].is_floating_point())


def train(kind: str, data: Path, out: Path, device: str, stop_after: int | None = None) -> None:
    def run(resume: bool, stop: int | None) -> None:
        if kind in ("mdm", "mld"):
            cfg = PretrainConfig.from_preset("tiny", arch=kind, steps=STEPS, vae_steps=STEPS, text_encoder="hash",
                                             checkpoint_every=STEPS // 2)
            pretrain(data, out, cfg, resume, stop_after=stop, device=device)
        else:
            cfg = EmbeddingTrainConfig.from_preset(kind, "tiny", steps=STEPS, text_encoder="hash",
                                                   checkpoint_every=STEPS // 2)
            train_embedding_model(data, out, cfg, resume, stop_after=stop, device=device)

    run(False, stop_after)
    if stop_after is not None:  # killed after a checkpoint: continue from it
        run(True, None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    data = synthesize(args.out / "data", "h", size=24, seed=0, force=True)
    results = {}
    for kind in ("mdm", "mld", "retrieval", "evaluator"):
        start = time.perf_counter()
        try:
            for device in dict.fromkeys((args.device, "cpu")):
                train(kind, data, args.out / f"{kind}_{device}", device)
            train(kind, data, args.out / f"{kind}_{args.device}_resumed", args.device, stop_after=STEPS // 2 + 1)
            results[kind] = {
                "resumed_vs_uninterrupted": largest_difference(args.out / f"{kind}_{args.device}",
                                                               args.out / f"{kind}_{args.device}_resumed"),
                "device_vs_cpu": largest_difference(args.out / f"{kind}_{args.device}", args.out / f"{kind}_cpu"),
                "seconds": round(time.perf_counter() - start, 1)}
        except Exception as err:  # one kind failing must not hide the others' results
            results[kind] = {"error": f"{type(err).__name__}: {err}"}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
