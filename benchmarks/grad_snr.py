"""How much signal is in one DDPO update? The policy gradient's signal-to-noise ratio, per denoising step.

For ``--batches K`` independent iterations (each its own prompts and noise, the preset's batch), the
gradient of the surrogate at the start of training (ratio 1: ``-mean(A * log p)``) is taken on every
trainable step (all stochastic ones unless ``first_steps`` is set) separately, w.r.t. the LoRA
parameters. With ``g_k`` the gradient of batch ``k``:

* signal^2 = ||E g||^2, estimated without bias by the mean of the pairwise dot products ``g_i . g_j``
  (i != j) — independent batches share only the true gradient;
* noise^2 = E ||g_k||^2 - signal^2, the variance of one batch's gradient;
* ``mean_pairwise_cosine`` between two batches' gradients, ~ snr / (1 + snr): how well one update points;
* ``rollouts_for_snr_1`` = rollouts per batch x noise^2 / signal^2: how many rollouts one update needs
  before its gradient is as much signal as noise (noise^2 falls as 1 / rollouts).

``snr_adam_scaled`` is the same ratio after dividing each coordinate by its gradient RMS (what Adam
does; the RMS from the other half of the batches): a signal in a few quiet coordinates shows there even
when the plain ratio, dominated by the loud ones, is near zero.

Reported per step and for the sets of steps a preset can train (the first 1, 3, all). A 95 % interval
on signal^2 comes from the jackknife over batches. The LoRA ``B`` matrices start at zero, so at the start
only they get gradients; that is where every run starts.

``--method draft``: the same estimator on reward-gradient fine-tuning's gradient (``rl/draft.py``: the
reward backpropagated through the sampler, one sample per prompt, ``prompts_per_iteration`` of ``[draft]``)
— one row, ``all``, since its gradient is one pathwise derivative through every step, not a sum over steps.

Usage: python benchmarks/grad_snr.py --model RUN --data DIR --reward RUN|height [--batches 12]
       [--method ddpo|draft] [--set '{"copies": 8}']   (prints JSON)
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
from nomocap.rewards import WeightedSum
from nomocap.rl import method_config, trainer_class
from nomocap.rl.ddpo import DDPOTrainer
from nomocap.rl.draft import DRaFTTrainer

try:
    from rl_paired import add_common_arguments, make_reward
except ImportError:  # imported as benchmarks.grad_snr
    from benchmarks.rl_paired import add_common_arguments, make_reward


def step_gradients(trainer: DDPOTrainer, iteration: int) -> np.ndarray:
    """``[steps, params]``: the surrogate's gradient at ratio 1 on each trainable step of one fresh batch."""
    rollouts, _ = trainer.sample(trainer.draw_prompts(iteration), trainer._generator(iteration))
    every = torch.arange(len(rollouts.prompts))
    grads = []
    for step, trainable in enumerate(rollouts.trainable):
        if not trainable:
            continue
        trainer.opt.zero_grad(set_to_none=True)
        log_prob, _ = trainer._log_prob(rollouts, every, step, with_base=False)
        (-(rollouts.advantages * log_prob).mean()).backward()
        grads.append(flat_grad(trainer.params))
    return np.stack(grads)


def flat_grad(params: list[torch.nn.Parameter]) -> np.ndarray:
    # Adapters the forward never reaches (mld's VAE) get no gradient: zeros.
    grads = [(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in params]
    return torch.cat(grads).double().numpy()


def draft_gradient(trainer: DRaFTTrainer, iteration: int) -> np.ndarray:
    """``[1, params]``: the reward gradient through the sampler on one fresh batch of prompts."""
    trainer.opt.zero_grad(set_to_none=True)
    loss, _ = trainer.loss(trainer.draw_prompts(iteration), trainer._generator(iteration))
    loss.backward()
    return flat_grad(trainer.params)[None]


def signal_and_noise(g: np.ndarray) -> tuple[float, float]:
    """``g``: [batches, params] -> (signal^2, noise^2) as in the module docstring."""
    k = len(g)
    total = g.sum(0)
    squares = float((g * g).sum())
    signal = (float(total @ total) - squares) / (k * (k - 1))
    return signal, squares / k - signal


def adam_snr(g: np.ndarray) -> float:
    """The SNR after Adam's per-coordinate scaling (1 / RMS of the gradient), the RMS taken from the other
    half of the batches so that a coordinate's noise does not set its own scale."""
    halves = np.array_split(np.arange(len(g)), 2)
    ratios = []
    for this, other in (halves, halves[::-1]):
        rms = np.sqrt((g[other] ** 2).mean(0)) + 1e-30
        ratios.append(signal_and_noise(g[this] / rms))
    signal, noise = np.mean(ratios, axis=0)
    return float(signal / noise)


def summary(g: np.ndarray, rollouts: int) -> dict:
    signal, noise = signal_and_noise(g)
    k = len(g)
    leave_one_out = np.array([signal_and_noise(np.delete(g, i, 0))[0] for i in range(k)])
    half = 1.96 * float(np.sqrt((k - 1) / k * ((leave_one_out - leave_one_out.mean()) ** 2).sum()))
    unit = g / np.linalg.norm(g, axis=1, keepdims=True)
    cosines = (unit @ unit.T)[~np.eye(k, dtype=bool)]
    return {"signal2": signal, "signal2_ci": half, "noise2": noise, "snr": signal / noise,
            "snr_adam_scaled": adam_snr(g), "mean_pairwise_cosine": float(cosines.mean()),
            "rollouts_for_snr_1": rollouts * noise / signal if signal > 0 else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--method", choices=("ddpo", "draft"), default="ddpo")
    parser.add_argument("--set", default="{}", help="JSON overrides of [finetune] ([draft] with --method draft)")
    parser.add_argument("--save", help="also write the gradients [batches, steps, params] to this .npy file")
    args = parser.parse_args()
    if args.batches < 6:
        parser.error("--batches must be at least 6 (pairs in each half for the Adam-scaled ratio)")
    draft = args.method == "draft"
    overrides = {"replay_fraction": 0.0, "seed": args.seed, **({} if draft else {"first_steps": 0}),
                 **json.loads(args.set)}
    cfg = method_config(args.method, args.preset, **overrides)
    with tempfile.TemporaryDirectory() as tmp:
        pipe = MotionPipeline.from_run(args.model, cache_dir=Path(tmp) / ".text_cache")
        reward = WeightedSum([(make_reward(args, Path(tmp) / ".text_cache"), 1.0)])
        trainer = trainer_class(cfg)(pipe, reward, load_prompts(args.data, "train"), cfg, tmp, args.model,
                                     console=Console(quiet=True))
        gradient = draft_gradient if draft else step_gradients
        g = np.stack([gradient(trainer, i) for i in range(args.batches)])  # [batches, steps, params]
    if args.save:
        np.save(args.save, g.astype(np.float32))
    rollouts = cfg.prompts_per_iteration * (1 if draft else cfg.copies)
    steps = g.shape[1]
    out = {"settings": {**overrides, "method": args.method, "preset": args.preset, "reward": args.reward,
                        "batches": args.batches, "rollouts_per_batch": rollouts},
           "per_step": [summary(g[:, s], rollouts) for s in range(steps)] if not draft else [],
           **{f"first_{n}": summary(g[:, :n].sum(1), rollouts) for n in (1, 3) if n < steps},
           "all": summary(g.sum(1), rollouts)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
