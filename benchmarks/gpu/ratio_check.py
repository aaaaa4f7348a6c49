"""The importance ratio before the first update, on whatever device is there (the GPU check of issue #6).

Samples one iteration with the shipped small base model and reward, then re-scores every trained step's
log-prob under the same (not yet updated) policy, with CFG, in the train phase's minibatch size, and
prints the largest |log p_train - log p_sample| per sampler as JSON (1e-5 is what the CPU test demands).

    python benchmarks/gpu/ratio_check.py --prompts prompts/k/annotations.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

from nomocap.data.prompts import load_prompts
from nomocap.pipeline import MotionPipeline
from nomocap.rewards.retrieval import RetrievalReward
from nomocap.rl.ddpo import DDPOConfig, DDPOTrainer

REWARD = "assets/checkpoints/reward_small"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", required=True)
    parser.add_argument("--model", default="assets/checkpoints/base_small_mdm_guo")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--prompts-per-iteration", type=int, default=64)
    args = parser.parse_args()
    prompts = load_prompts(args.prompts, "train")
    results = {"device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu", "torch": torch.__version__}
    for sampler in ("ddim", "sde-dpm++"):
        cfg = DDPOConfig.from_preset("small", sampler=sampler, prompts_per_iteration=args.prompts_per_iteration,
                                     sample_batch=256, train_batch=16, first_steps=0, timestep_fraction=1.0)
        pipe = MotionPipeline.from_run(args.model, device=args.device)
        with tempfile.TemporaryDirectory() as out:
            trainer = DDPOTrainer(pipe, RetrievalReward.from_run(REWARD), prompts, cfg, out, args.model)
            start = time.perf_counter()
            rollouts, _ = trainer.sample(trainer.draw_prompts(0), trainer._generator(0))
            sample_s = time.perf_counter() - start
            worst, scale = 0.0, 0.0
            with torch.no_grad():
                for step, trainable in enumerate(rollouts.trainable):
                    if not trainable:
                        continue
                    for idx in torch.arange(len(rollouts.prompts)).split(cfg.train_batch):
                        log_prob, _ = trainer._log_prob(rollouts, idx, step, with_base=False)
                        stored = rollouts.log_probs[step][idx]
                        worst = max(worst, float((log_prob - stored).abs().max()))
                        scale = max(scale, float(stored.abs().max()))
        results[sampler] = {"rollouts": len(rollouts.prompts), "max_abs_log_prob_difference": worst,
                            "max_abs_log_prob": scale, "sample_seconds": round(sample_s, 3)}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
