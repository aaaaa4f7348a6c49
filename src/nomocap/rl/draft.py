"""Reward-gradient fine-tuning (DRaFT): backpropagate the reward through the sampler into LoRA adapters.

The second comparison to DDPO, from the same text prompts, reward and adapters (Clark et al. 2024, "DRaFT";
Prabhudesai et al. 2023, "AlignProp"). The retrieval reward is a differentiable function of the motion and
the motion of the adapters, so its gradient can be taken exactly instead of estimated from the score
function. Each iteration: draw prompts (a ``replay_fraction`` from the source corpus), sample one motion per
prompt with the deterministic evaluation sampler, recording the last ``grad_steps`` denoising steps and the
decoding for autograd (``grad_steps = steps``: through every step, AlignProp; fewer: DRaFT-K, the gradient
stopped before them), and take an AdamW step on ``-reward + anchor_coef * anchor``.

Why it exists: DDPO's gradient on the joint-space model is pure noise at any batch we can afford (README,
``benchmarks/grad_snr.py``): a step is a Gaussian action in ~16,000 dimensions of which the reward reads a
handful. The pathwise gradient has no such noise; what it risks instead is climbing what the reward model
likes and no one else does, which the independent evaluator and the judge measure.

``anchor`` is the mean squared distance, in the denoiser's normalised space, between the policy's final
sample and the base model's from the same noise — for a deterministic sampler the per-step Gaussian KL of
DDPO has no finite value, and this is what keeps the motion near what the prior would have made.
``denoiser_anchor`` is the softer alternative: at every graded step, the squared distance between the policy's
guided clean-sample prediction and the base's *at the policy's own state* — the x0-space form of the KL between
the two models' stochastic paths (DPOK's regulariser), which lets a sample leave the base's motion for another
one the base would itself have denoised to, and penalises only the steps where the base would disagree.

Iteration ``i`` draws its randomness from ``seed`` and ``i`` alone, so ``--resume`` repeats the
uninterrupted run; the best adapter by held-out validation reward is kept, the base competing first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from rich.console import Console

from nomocap.data.prompts import Prompt, draw_with_replay, replay_count
from nomocap.pipeline import MotionPipeline, Samples
from nomocap.rewards import DifferentiableReward, WeightedSum
from nomocap.rl.run_state import AdapterTrainer, progress_bar
from nomocap.runlog import RunLog
from nomocap.training import checked_preset


@dataclass
class DRaFTConfig:
    method: ClassVar[str] = "draft"  # its name in presets' stage settings and on the CLI
    iterations: int = 60
    prompts_per_iteration: int = 16
    grad_steps: int = 10  # the last K denoising steps carry the gradient; = steps: every step (AlignProp)
    # > 0: the adapter acts at the first K (highest-noise) steps only and the base denoises the rest; the gradient
    # still runs through the base's later steps into it
    adapter_steps: int = 0
    lr: float = 1e-4
    grad_clip: float = 1.0
    anchor_coef: float = 0.0  # weight of the squared distance to the base's sample from the same noise
    # weight of the squared distance between the policy's and the base's guided predictions at the policy's own
    # states, over the graded steps (a path-KL surrogate; see the module docstring)
    denoiser_anchor_coef: float = 0.0
    # latent models: the VAE decoder's adapters train too (the reward's gradient reaches them through the decoding);
    # off, the denoiser alone adapts, as under DDPO, and the decoder's reconstruction of the source bounds the FID
    adapt_decoder: bool = False
    # > 0: the replayed source prompts leave the reward out and are held to the base's motion by this weight instead
    # (the target's reward model would score them by the target's style: what made the adapted decoder forget)
    replay_anchor_coef: float = 0.0
    sampler: str = "dpm++"  # what evaluation samples with
    steps: int = 10
    guidance: float = 2.5
    lora_rank: int = 4
    lora_alpha: float = 4.0
    replay_fraction: float = 0.25
    eval_every: int = 5
    val_prompts: int = 32
    seed: int = 0

    @classmethod
    def from_preset(cls, preset: str, arch: str | None = None, /, **overrides) -> DRaFTConfig:
        return checked_preset(cls, "draft", preset, overrides, "draft", arch)


class DRaFTTrainer(AdapterTrainer):
    def __init__(self, pipe: MotionPipeline, reward: DifferentiableReward, prompts: list[Prompt], cfg: DRaFTConfig,
                 out: str | Path, base_run: str | Path, replay: list[Prompt] | None = None,
                 val_prompts: list[Prompt] | None = None, console: Console | None = None,
                 run_config: dict | None = None):
        if not hasattr(reward, "differentiable") or getattr(reward, "without_gradient", []):
            raise ValueError("draft climbs the reward's gradient: every reward term needs a differentiable(...) "
                             f"method (none: {', '.join(getattr(reward, 'without_gradient', [reward.name]))})")
        if pipe.representation.name != "guo":
            raise ValueError(f"draft needs a base in the HumanML3D feature representation (guo), which the reward "
                             f"reads; this base is {pipe.representation.name!r}")
        if not 1 <= cfg.grad_steps <= cfg.steps:
            raise ValueError(f"grad_steps must lie in [1, steps={cfg.steps}], got {cfg.grad_steps}")
        if not 0 <= cfg.adapter_steps <= cfg.steps:
            raise ValueError(f"adapter_steps must lie in [0, steps={cfg.steps}], got {cfg.adapter_steps}")
        if cfg.adapt_decoder and pipe.frame_space:
            raise ValueError("adapt_decoder trains a latent model's VAE decoder; this base has none (use --arch mld)")
        # One weighted sum whatever was passed, so that each term's mean is logged beside the total
        reward = reward if isinstance(reward, WeightedSum) else WeightedSum([(reward, 1.0)])
        super().__init__(pipe, reward, prompts, cfg, out, base_run, replay, val_prompts, console, run_config)
        for name, param in self.policy.named_parameters():
            # A latent model's VAE has adapters too (the same layer names). By default the comparison adapts the
            # denoiser alone, as DDPO does (it never decodes with a gradient); the encoder is never on the path.
            if ".vae." in name and not (cfg.adapt_decoder and ".vae.decoder." in name):
                param.requires_grad_(False)
        self.make_optimizer()
        self.sampler = pipe.sampler(cfg.sampler, cfg.steps)
        if cfg.adapter_steps:
            # The adapter may change what a motion becomes, while every later, low-noise step is the base's own.
            pipe.adapter_min_timestep = int(self.sampler.timesteps[cfg.adapter_steps - 1])
        self.iteration = 0

    def draw_prompts(self, iteration: int) -> list[Prompt]:
        return draw_with_replay(self.prompts, self.replay, self.cfg.prompts_per_iteration, self.cfg.replay_fraction,
                                np.random.default_rng([self.cfg.seed, iteration]))

    # ----------------------------------------------------------------------------------- one update

    def replay_mask(self, n: int) -> torch.Tensor:
        """Which of ``n`` drawn prompts are replayed source prompts (``draw_with_replay`` puts them last)."""
        return torch.arange(n) >= n - replay_count(n, self.cfg.replay_fraction, self.replay)

    def loss(self, prompts: list[Prompt], generator: torch.Generator) -> tuple[torch.Tensor, dict]:
        """``-mean reward + anchor_coef * anchor`` of one sample per prompt, with its graph; and what to log. With
        ``replay_anchor_coef`` the replayed prompts carry ``replay_anchor_coef * anchor`` instead of their reward."""
        cfg, pipe = self.cfg, self.pipe
        texts, lengths = [p.text for p in prompts], [p.frames for p in prompts]
        noise_seed = int(torch.randint(2**62, (1,), generator=generator))

        def noise() -> torch.Generator:  # the policy's and the base's samples start from the same noise
            return torch.Generator().manual_seed(noise_seed)

        samples = pipe.sample(texts, lengths, self.sampler, cfg.guidance, noise(), grad_steps=cfg.grad_steps,
                              keep_trajectory=cfg.denoiser_anchor_coef > 0)
        features = pipe.normalizer.denormalize(samples.features)
        terms: dict[str, float] = {}
        rewards = self.reward.differentiable(features, samples.mask, texts, terms)
        held = (self.replay_mask(len(prompts)) & (cfg.replay_anchor_coef > 0)).to(rewards.device)
        own = ~held
        loss = -rewards[own].mean() if own.any() else rewards.sum() * 0.0
        scores = rewards.detach()
        info = {"reward_mean": float(scores.mean()), "reward_std": float(scores.std()) if len(scores) > 1 else 0.0,
                **(terms if len(terms) > 1 else {})}
        if cfg.anchor_coef > 0 or held.any():
            with torch.no_grad(), self.policy.disable_adapter():
                base = pipe.sample(texts, lengths, self.sampler, cfg.guidance, noise())
            if cfg.anchor_coef > 0:
                anchor = self.anchor(samples.features[own], base.features[own], samples.mask[own])
                loss = loss + cfg.anchor_coef * anchor
                info["anchor"] = float(anchor.detach())
            if held.any():
                kept = self.anchor(samples.features[held], base.features[held], samples.mask[held])
                loss = loss + cfg.replay_anchor_coef * kept
                info["replay_anchor"] = float(kept.detach())
        if cfg.denoiser_anchor_coef > 0:
            drift = self.denoiser_drift(samples)
            loss = loss + cfg.denoiser_anchor_coef * drift
            info["denoiser_anchor"] = float(drift.detach())
        return loss, info

    def denoiser_drift(self, samples: Samples) -> torch.Tensor:
        """Mean over the graded steps of the squared distance between the policy's guided clean-sample prediction and
        the base's at the same (the policy's) state; the base's prediction is a constant."""
        pipe, cfg, traj = self.pipe, self.cfg, samples.trajectory
        cond = pipe.encode(samples.prompts)
        step_mask = pipe.step_mask(samples.mask)
        terms = []
        for i in range(len(self.sampler.timesteps) - cfg.grad_steps, len(self.sampler.timesteps)):
            x = traj.latents[i].detach()
            t = torch.full((len(x),), int(self.sampler.timesteps[i]), device=x.device, dtype=torch.long)
            with torch.no_grad(), self.policy.disable_adapter():
                base = pipe.predict_x0(x, t, cond, samples.mask, cfg.guidance)
            terms.append(self.anchor(traj.x0[i], base, step_mask))
        return torch.stack(terms).mean()

    @staticmethod
    def anchor(features: torch.Tensor, base: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Mean squared difference over valid frames (all of them without a mask) and feature dimensions."""
        if mask is None:
            return ((features - base) ** 2).mean()
        m = mask[..., None].to(features.dtype)
        return (((features - base) ** 2) * m).sum() / (m.sum() * features.shape[-1]).clamp_min(1)

    def update(self, prompts: list[Prompt], generator: torch.Generator) -> dict:
        self.opt.zero_grad(set_to_none=True)
        loss, info = self.loss(prompts, generator)
        skipped = 0
        if torch.isfinite(loss):
            loss.backward()
        if not torch.isfinite(loss) or not all(p.grad is None or torch.isfinite(p.grad).all() for p in self.params):
            skipped = 1  # a non-finite reward or gradient never touches the adapter
            self.opt.zero_grad(set_to_none=True)
            grad_norm = float("nan")
        else:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip))
            self.opt.step()
        return {**info, "loss": float(loss.detach()), "grad_norm": grad_norm, "skipped_batches": skipped}

    # ----------------------------------------------------------------------------------- validation, checkpoints

    def checkpoint(self) -> None:
        self.save_state({"iteration": str(self.iteration), "best": repr(self.best.best)})

    def resume(self) -> None:
        meta = self.load_state()
        if meta is None:
            return
        self.iteration, self.best.best = int(meta["iteration"]), float(meta["best"])
        self.console.print(f"resuming {self.out} at iteration {self.iteration}")

    # ----------------------------------------------------------------------------------- the loop

    def run(self, resume: bool = False, stop_after: int | None = None, tensorboard: bool = False) -> Path:
        cfg, out = self.cfg, self.out
        self.start(resume)
        with RunLog(out, "iteration", tensorboard) as log, progress_bar("draft", self.console) as bar:
            task = bar.add_task("draft", total=cfg.iterations, completed=self.iteration, reward=float("nan"))
            start = self.validate_start() if self.iteration == 0 and cfg.eval_every else {}
            while self.iteration < cfg.iterations:
                it = self.iteration
                tic = time.time()
                row = {"iteration": it + 1, **self.update(self.draw_prompts(it), self._generator(it)), "lr": cfg.lr,
                       "seconds_train": round(time.time() - tic, 2)}
                if it == 0:
                    row.update(start)
                self.iteration = it + 1
                if cfg.eval_every and (self.iteration % cfg.eval_every == 0 or self.iteration == cfg.iterations):
                    self.validate_into(row)
                log.write(row)
                bar.update(task, completed=self.iteration, reward=row["reward_mean"])
                self.checkpoint()
                if stop_after is not None and self.iteration >= stop_after:
                    break
        return self.finish()
