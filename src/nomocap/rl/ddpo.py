"""DDPO post-training: sample, then train — importance sampling with the PPO clip, on LoRA adapters.

Each iteration has two visible phases (ddpo-pytorch's layout):

* **sample**: draw prompts (distinct prompts x copies; a ``replay_fraction`` of them from the source
  corpus, which keeps what the model knew), roll out the current policy with a stochastic sampler,
  store every step (latents, old log-probs, solver state), score the final motions with the reward,
  and turn rewards into per-prompt normalised, clipped advantages;
* **train**: for ``inner_epochs``, shuffle the rollouts and, independently per rollout, the order of
  its trainable steps; re-score a ``timestep_fraction`` of them under the current policy (same CFG) and
  minimise the PPO clipped surrogate, plus an optional per-step Gaussian KL to the frozen base policy.

Iteration ``i`` draws its randomness from ``seed`` and ``i`` alone, so a resumed run repeats the
uninterrupted one. The best adapter by held-out validation reward is kept beside the last one — the
untrained (zero) adapter, i.e. the base model, competes too, so RL never hands back a model that scores
below its base on held-out prompts — and a collapse of the within-prompt reward spread stops the run.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from rich.console import Console

from nomocap.checkpoint import save_config
from nomocap.data.prompts import Prompt, draw_with_replay
from nomocap.pipeline import MotionPipeline, Samples
from nomocap.rewards import MotionBatch, Reward
from nomocap.rl.advantages import PerPromptStatTracker
from nomocap.rl.distributed import Distributed
from nomocap.rl.noise import grouped_noise
from nomocap.rl.ppo import clipped_surrogate, gaussian_kl
from nomocap.rl.run_state import AdapterTrainer, progress_bar
from nomocap.rl.subspace import SubspaceScore
from nomocap.runlog import RunLog
from nomocap.training import checked_preset, continues_run


@dataclass
class DDPOConfig:
    method: ClassVar[str] = "ddpo"  # its name in presets' stage settings and on the CLI
    iterations: int = 50
    prompts_per_iteration: int = 16
    copies: int = 4
    sample_batch: int = 64
    train_batch: int = 16
    inner_epochs: int = 2
    timestep_fraction: float = 0.5
    first_steps: int = 0  # train only the first (high-noise) denoising steps; 0 = every stochastic step
    antithetic: bool = False  # a prompt's copies share untrained noise, trained steps in +/- pairs (rl/noise.py)
    gate_adapter: bool = False  # the adapter acts only at the trained (first_steps) noise levels
    score_frequencies: int = 0  # score only the step noise's K slowest temporal DCT components (rl/subspace.py)
    clip_range: float = 0.1
    lr: float = 3e-4
    lr_anneal: bool = False  # cosine from lr to 0 over the iterations (a late climb otherwise undoes itself)
    adv_clip: float = 5.0
    grad_clip: float = 1.0
    sampler: str = "sde-dpm++"
    steps: int = 10
    eta: float = 1.0
    guidance: float = 2.5
    lora_rank: int = 4
    lora_alpha: float = 4.0
    replay_fraction: float = 0.25
    kl_coef: float = 0.0
    collapse_ratio: float = 0.25
    collapse_patience: int = 3
    eval_every: int = 5
    val_prompts: int = 32
    val_spread: bool = True  # validate on distinct captions spread over the split (False: its first ones)
    stat_buffer: int = 32
    seed: int = 0

    @classmethod
    def from_preset(cls, preset: str, arch: str | None = None, /, **overrides) -> DDPOConfig:
        """The preset's ``[finetune]`` settings, with ``[finetune_ARCH]`` over them for the base's architecture."""
        return checked_preset(cls, "finetune", preset, overrides, "fine-tuning", arch)


@dataclass
class Rollouts:
    """One iteration's rollouts; step ``s`` of sample ``b`` maps ``latents[s, b]`` to ``latents[s + 1, b]``."""

    prompts: list[str]
    cond: torch.Tensor  # [B, text_dim]
    mask: torch.Tensor  # [B, T]
    latents: torch.Tensor  # [S + 1, B, ...]
    log_probs: torch.Tensor  # [S, B]
    prev_x0: torch.Tensor | None  # [S, B, ...] (multistep solver state), None if unused
    trainable: list[bool]  # per step
    rewards: np.ndarray = field(default_factory=lambda: np.zeros(0))
    advantages: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    batch_prompts: list[str] = field(default_factory=list)  # the whole iteration's, over every rank
    batch_rewards: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _cat_steps(per_chunk: list[list[torch.Tensor]]) -> torch.Tensor:
    """Per sample-batch lists over steps -> one ``[steps, all samples, ...]`` tensor."""
    return torch.stack([torch.cat(parts) for parts in zip(*per_chunk)])


class DDPOTrainer(AdapterTrainer):
    def __init__(self, pipe: MotionPipeline, reward: Reward, prompts: list[Prompt], cfg: DDPOConfig, out: str | Path,
                 base_run: str | Path, replay: list[Prompt] | None = None, val_prompts: list[Prompt] | None = None,
                 console: Console | None = None, run_config: dict | None = None, dist: Distributed | None = None):
        self.dist = dist or Distributed()
        if (cfg.prompts_per_iteration * cfg.copies) % self.dist.world:
            raise ValueError(f"{cfg.prompts_per_iteration} prompts x {cfg.copies} copies do not split evenly over "
                             f"{self.dist.world} processes")
        if cfg.antithetic and (cfg.sample_batch % cfg.copies or cfg.prompts_per_iteration % self.dist.world):
            raise ValueError(f"antithetic rollouts keep a prompt's {cfg.copies} copies together: sample_batch "
                             f"({cfg.sample_batch}) must be a multiple of copies and prompts_per_iteration "
                             f"({cfg.prompts_per_iteration}) of the {self.dist.world} processes")
        # The adapters have no dropout (eval mode): re-scored log-probs must equal the sampled ones.
        super().__init__(pipe, reward, prompts, cfg, out, base_run, replay, val_prompts, console, run_config,
                         spread_val=cfg.val_spread)
        self.trained = self.dist.prepare(self.policy)  # train-phase forwards go through the prepared module
        self.make_optimizer()
        self.sampler = pipe.sampler(cfg.sampler, cfg.steps, cfg.eta)
        if not self.sampler.stochastic:
            raise ValueError(f"sampler {cfg.sampler!r} is deterministic: RL needs ddim (eta > 0), ddpm or sde-dpm++")
        if cfg.score_frequencies > 0:
            if not pipe.frame_space:
                raise ValueError("score_frequencies projects a step's noise on the time axis: it needs a joint-space "
                                 "model (mdm), and a latent model's steps have no frames (set it to 0)")
            self.sampler = SubspaceScore(self.sampler, cfg.score_frequencies)
        if cfg.gate_adapter and cfg.first_steps > 0:
            # Untrained steps would otherwise run an adapter that no gradient ever judged at their noise level.
            pipe.adapter_min_timestep = int(self.sampler.timesteps[cfg.first_steps - 1])
        self.tracker = PerPromptStatTracker(cfg.stat_buffer, min(cfg.copies, 4), cfg.adv_clip)
        self.iteration, self.initial_spread, self.collapsed_for = 0, None, 0

    # ----------------------------------------------------------------------------------- sample phase

    def draw_prompts(self, iteration: int) -> list[Prompt]:
        picks = draw_with_replay(self.prompts, self.replay, self.cfg.prompts_per_iteration, self.cfg.replay_fraction,
                                 np.random.default_rng([self.cfg.seed, iteration]))
        return [p for p in picks for _ in range(self.cfg.copies)]

    @torch.no_grad()
    def sample(self, batch: list[Prompt], generator: torch.Generator) -> tuple[Rollouts, dict]:
        """Roll out this rank's share of ``batch`` (the iteration's prompts); advantages use every rank's rewards."""
        share = len(batch) // self.dist.world
        mine = slice(self.dist.rank * share, (self.dist.rank + 1) * share)
        prompts = batch[mine]
        frames = max(p.frames for p in prompts)
        parts: list[Samples] = []
        trained_steps = range(self.cfg.first_steps if self.cfg.first_steps > 0 else self.cfg.steps)
        for i in range(0, len(prompts), self.cfg.sample_batch):
            chunk = prompts[i : i + self.cfg.sample_batch]
            noise = grouped_noise(len(chunk), self.cfg.copies, trained_steps, generator) if self.cfg.antithetic \
                else None
            parts.append(self.pipe.sample([p.text for p in chunk], [p.frames for p in chunk], self.sampler,
                                          self.cfg.guidance, generator, keep_trajectory=True, frames=frames,
                                          noise=noise))
        texts = [p.text for p in prompts]
        trajs = [s.trajectory for s in parts]
        latents = _cat_steps([t.latents + [s.latents] for t, s in zip(trajs, parts)])
        prev_x0 = None
        if trajs[0].prev_x0[-1] is not None:  # a multistep solver: its previous x0 is part of the state
            prev_x0 = _cat_steps([[p if p is not None else torch.zeros_like(x) for p, x in zip(t.prev_x0, t.latents)]
                                  for t in trajs])
        # Late, low-noise steps weigh 1/std in the score function yet barely change what the motion is:
        # their gradient is mostly noise, and it swamps the early steps' signal (measured: see README).
        trainable = [ok and (self.cfg.first_steps <= 0 or s < self.cfg.first_steps)
                     for s, ok in enumerate(trajs[0].trainable)]
        rollouts = Rollouts(texts, self.pipe.encode(texts), torch.cat([s.mask for s in parts]), latents,
                            _cat_steps([t.log_probs for t in trajs]), prev_x0, trainable)
        features = [f for s in parts for f in self.pipe.to_features(s)]
        scores, info = self.reward(MotionBatch(features, self.pipe.representation), texts)
        rollouts.rewards = scores.numpy().astype(np.float64)
        rollouts.batch_prompts = [p.text for p in batch]
        rollouts.batch_rewards = self.dist.gather(scores.double()).numpy()
        advantages = self.tracker.update(rollouts.batch_prompts, rollouts.batch_rewards)
        rollouts.advantages = torch.from_numpy(advantages[mine]).float().to(latents.device)
        if self.dist.world > 1:
            names = sorted(info)
            info = dict(zip(names, self.dist.gather(torch.tensor([[info[k] for k in names]])).mean(0).tolist()))
        return rollouts, info

    # ----------------------------------------------------------------------------------- train phase

    def _log_prob(self, r: Rollouts, idx: torch.Tensor, step: int, with_base: bool):
        x, target = r.latents[step, idx], r.latents[step + 1, idx]
        t = torch.full((len(idx),), int(self.sampler.timesteps[step]), dtype=torch.long, device=x.device)
        mask = r.mask[idx]
        step_mask = self.pipe.step_mask(mask)
        prev = r.prev_x0[step, idx] if r.prev_x0 is not None and step > 0 else None
        x0 = self.pipe.predict_x0(x, t, r.cond[idx], mask, self.cfg.guidance, model=self.trained)
        out = self.sampler.step(x0, step, x, prev_sample=target, prev_x0=prev, mask=step_mask)
        kl = None
        if with_base:
            with torch.no_grad(), self.policy.disable_adapter():
                base_x0 = self.pipe.predict_x0(x, t, r.cond[idx], mask, self.cfg.guidance)
                base = self.sampler.step(base_x0, step, x, prev_sample=target, prev_x0=prev, mask=step_mask)
            kl = gaussian_kl(out.mean, base.mean, out.std, step_mask)
        return out.log_prob, kl

    def train(self, r: Rollouts, generator: torch.Generator) -> dict:
        cfg = self.cfg
        usable = torch.from_numpy(np.isfinite(r.rewards))
        steps = [s for s, ok in enumerate(r.trainable) if ok]
        per_sample = max(1, int(math.ceil(cfg.timestep_fraction * len(steps))))
        stats: dict[str, list[float]] = {"loss": [], "approx_kl": [], "clipfrac": [], "kl_base": [], "grad_norm": []}
        skipped = 0
        for _ in range(cfg.inner_epochs):
            order = torch.randperm(len(r.prompts), generator=generator)
            order = order[usable[order]]
            # Every rank takes as many optimiser steps as the busiest one (the gradient mean is collective).
            n_batches = int(self.dist.gather(torch.tensor([len(order)])).max().item() + cfg.train_batch - 1) \
                // cfg.train_batch
            for b in range(n_batches):
                idx = order[b * cfg.train_batch : (b + 1) * cfg.train_batch]
                self.opt.zero_grad(set_to_none=True)
                total, finite = 0.0, True
                with self.dist.no_sync(self.trained):
                    if len(idx):
                        total, finite = self._accumulate(r, idx, steps, per_sample, generator, stats)
                grads_ok = finite and all(p.grad is None or torch.isfinite(p.grad).all() for p in self.params)
                if not self.dist.all_true(grads_ok):
                    skipped += 1  # a non-finite batch (on any rank) never touches the adapter
                    self.opt.zero_grad(set_to_none=True)
                    continue
                self.dist.mean_grads(self.params)
                stats["grad_norm"].append(float(torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)))
                self.opt.step()
                stats["loss"].append(total)
        out = {k: float(np.mean(v)) if v else float("nan") for k, v in stats.items()}
        out["skipped_batches"] = skipped
        return out

    def _accumulate(self, r: Rollouts, idx: torch.Tensor, steps: list[int], per_sample: int,
                    generator: torch.Generator, stats: dict[str, list[float]]) -> tuple[float, bool]:
        """Backward the PPO loss of the rollouts ``idx`` on ``per_sample`` random steps each; (loss, finite)."""
        cfg = self.cfg
        chosen = torch.stack([torch.tensor(steps)[torch.randperm(len(steps), generator=generator)[:per_sample]]
                              for _ in idx])  # [b, per_sample]: independently per rollout
        total = 0.0
        for step in steps:
            rows = (chosen == step).any(1)
            if not rows.any():
                continue
            sub = idx[rows]
            log_prob, kl = self._log_prob(r, sub, step, cfg.kl_coef > 0)
            loss, info = clipped_surrogate(log_prob, r.log_probs[step, sub], r.advantages[sub], cfg.clip_range)
            if kl is not None:
                loss = loss + cfg.kl_coef * kl.mean()
                stats["kl_base"].append(kl.mean().item())
            loss = loss * len(sub) / (len(idx) * per_sample)  # gradient accumulation over steps
            if not torch.isfinite(loss):
                return total, False
            loss.backward()
            total += loss.item()
            stats["approx_kl"].append(float(info["approx_kl"]))
            stats["clipfrac"].append(float(info["clipfrac"]))
        return total, True

    # ----------------------------------------------------------------------------------- validation, checkpoints

    def checkpoint(self) -> None:
        self.save_state({"iteration": str(self.iteration), "best": repr(self.best.best),
                         "tracker": json.dumps(self.tracker.state_dict()),
                         "initial_spread": repr(self.initial_spread), "collapsed_for": str(self.collapsed_for)})

    def resume(self) -> None:
        meta = self.load_state()
        if meta is None:
            return
        self.tracker.load_state_dict(json.loads(meta["tracker"]))
        self.iteration, self.best.best = int(meta["iteration"]), float(meta["best"])
        self.initial_spread = None if meta["initial_spread"] == "None" else float(meta["initial_spread"])
        self.collapsed_for = int(meta["collapsed_for"])
        self.console.print(f"resuming {self.out} at iteration {self.iteration}")

    # ----------------------------------------------------------------------------------- the loop

    def run(self, resume: bool = False, stop_after: int | None = None, tensorboard: bool = False) -> Path:
        cfg, out, main = self.cfg, self.out, self.dist.is_main
        config = self.run_config()
        if continues_run(out, config, cfg.method, resume):
            self.resume()
        self.dist.barrier()  # every rank has read the old state before rank 0 writes anything
        if main:
            save_config(out, config)
        with RunLog(out, "iteration", tensorboard, enabled=main) as log, \
                progress_bar("finetune", self.console, disable=not main) as bar:
            task = bar.add_task("finetune", total=cfg.iterations, completed=self.iteration, reward=float("nan"))
            start = self.validate_start() if main and self.iteration == 0 and cfg.eval_every else {}
            while self.iteration < cfg.iterations:
                it, rank_salt = self.iteration, 10_000 * self.dist.rank
                tic = time.time()
                rollouts, reward_info = self.sample(self.draw_prompts(it), self._generator(it, rank_salt))
                t_sample = time.time() - tic
                lr = self.lr_at(it)
                for group in self.opt.param_groups:
                    group["lr"] = lr
                train_info = self.train(rollouts, self._generator(it, rank_salt + 1))
                self.dist.check_in_sync(self.params)
                row = self._row(it, rollouts, reward_info, train_info, t_sample, time.time() - tic - t_sample)
                row["lr"] = lr
                if it == 0:
                    row.update(start)
                self.iteration = it + 1
                due = cfg.eval_every and (self.iteration % cfg.eval_every == 0 or self.iteration == cfg.iterations)
                if main and due:
                    self.validate_into(row)
                log.write(row)
                bar.update(task, completed=self.iteration, reward=row["reward_mean"])
                stop = self._collapsed(row["within_prompt_std"])  # from the gathered rewards: the same on every rank
                if stop:
                    row_note = f"within-prompt reward spread fell below {cfg.collapse_ratio:g} of its start for " \
                               f"{cfg.collapse_patience} iterations: stopping (collapse); the best adapter is kept"
                    self.console.print(f"[yellow]{row_note}")
                if main:
                    self.checkpoint()
                self.dist.barrier()
                if stop or (stop_after is not None and self.iteration >= stop_after):
                    break
        if main and not (out / "best").exists():
            self.save_adapter(out / "best")
        self.dist.barrier()
        return out

    def lr_at(self, iteration: int) -> float:
        if not self.cfg.lr_anneal:
            return self.cfg.lr
        return self.cfg.lr * 0.5 * (1.0 + math.cos(math.pi * iteration / self.cfg.iterations))

    def _row(self, it: int, r: Rollouts, reward_info: dict, train_info: dict, t_sample: float, t_train: float) -> dict:
        rewards = r.batch_rewards
        finite = np.isfinite(rewards)
        groups: dict[str, list[float]] = {}
        for p, v in zip(r.batch_prompts, rewards):
            if np.isfinite(v):
                groups.setdefault(p, []).append(float(v))
        spread = float(np.mean([np.std(v) for v in groups.values() if len(v) > 1])) if groups else float("nan")
        return {"iteration": it + 1, "reward_mean": float(rewards[finite].mean()) if finite.any() else float("nan"),
                "reward_std": float(rewards[finite].std()) if finite.any() else float("nan"),
                "within_prompt_std": spread, "invalid": int((~finite).sum()), "processes": self.dist.world,
                **reward_info, **train_info,
                "seconds_sample": round(t_sample, 2), "seconds_train": round(t_train, 2)}

    def _collapsed(self, spread: float) -> bool:
        if not np.isfinite(spread):
            return False
        if self.initial_spread is None:
            self.initial_spread = spread
            return False
        self.collapsed_for = self.collapsed_for + 1 if spread < self.cfg.collapse_ratio * self.initial_spread else 0
        return self.collapsed_for >= self.cfg.collapse_patience
