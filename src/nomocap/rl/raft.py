"""Reward-ranked fine-tuning (RAFT): distil the policy's own best-of-n samples into LoRA adapters.

The comparison to DDPO, from the same text prompts and reward (Dong et al. 2023, "RAFT"; Gulcehre et
al. 2023, "ReST"). Each round has two visible phases:

* **sample**: draw prompts (a ``replay_fraction`` of them from the source corpus), sample ``candidates``
  motions per prompt with the current policy and the deterministic evaluation sampler, and keep the one
  the reward scores highest (``rewards.best_of_n``);
* **train**: ``steps_per_round`` AdamW steps of the pretraining loss (masked x0 prediction, condition
  dropout) on the kept samples, in the denoiser's own space — LoRA adapters only.

Why it exists: best-of-n sampling lifts the evaluator's retrieval and the judge far more than DDPO did
on the embedded benchmark (docs/results.md), and a KL-regularised RL optimum is a re-weighting of the
base anyway; RAFT moves the policy straight to its own re-weighted samples, with a supervised loss whose
gradient is not a noisy score-function estimate. Measured on h -> k it does worse than the base (docs/results.md:
self-distillation narrows each prompt's samples faster than it transfers the selection).

Round ``r`` draws its randomness from ``seed`` and ``r`` alone; a kill mid-round resumes at that round's
start and repeats it exactly. The best adapter by held-out validation reward is kept, the base competing
first (``rl.validation``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from rich.console import Console

from nomocap.data.prompts import Prompt, draw_with_replay
from nomocap.diffusion.guidance import guided_prediction
from nomocap.pipeline import MotionPipeline
from nomocap.pretrain import denoising_loss
from nomocap.rewards import Reward
from nomocap.rewards.best_of_n import BestOfN
from nomocap.rl.run_state import AdapterTrainer, progress_bar
from nomocap.runlog import RunLog
from nomocap.training import checked_preset


@dataclass
class RAFTConfig:
    method: ClassVar[str] = "raft"  # its name in presets' stage settings and on the CLI
    rounds: int = 3
    prompts_per_round: int = 256
    candidates: int = 4  # draws per prompt; the best by the reward is kept
    sample_batch: int = 64  # prompts per sampling call (times candidates motions)
    steps_per_round: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    grad_clip: float = 1.0
    sampler: str = "dpm++"  # what evaluation samples with: the distilled samples are the ones it would see
    steps: int = 10
    guidance: float = 2.5
    guided_loss: bool = False  # True: fit the guided prediction (what sampling uses), not the conditional branch
    min_timestep: int = 0  # > 0: distil only at timesteps >= this, and the adapter acts only there (a gate)
    lora_rank: int = 4
    lora_alpha: float = 4.0
    replay_fraction: float = 0.25
    val_prompts: int = 32
    seed: int = 0

    @classmethod
    def from_preset(cls, preset: str, arch: str | None = None, /, **overrides) -> RAFTConfig:
        return checked_preset(cls, "raft", preset, overrides, "raft", arch)


@dataclass
class Kept:
    """One round's distillation set: the best draw per prompt, in the denoiser's space."""

    latents: torch.Tensor  # [N, ...]
    mask: torch.Tensor  # [N, T]
    cond: torch.Tensor  # [N, text_dim]


class RAFTTrainer(AdapterTrainer):
    def __init__(self, pipe: MotionPipeline, reward: Reward, prompts: list[Prompt], cfg: RAFTConfig, out: str | Path,
                 base_run: str | Path, replay: list[Prompt] | None = None, val_prompts: list[Prompt] | None = None,
                 console: Console | None = None, run_config: dict | None = None):
        if cfg.candidates < 2:
            raise ValueError(f"raft ranks candidates: candidates must be >= 2, got {cfg.candidates}")
        if not 0 <= cfg.min_timestep < pipe.schedule.num_steps:
            raise ValueError(f"min_timestep must lie in [0, {pipe.schedule.num_steps}), got {cfg.min_timestep}")
        self.cond_dropout = float(pipe.model.config.cond_dropout)  # as in pretraining: CFG keeps both branches
        super().__init__(pipe, reward, prompts, cfg, out, base_run, replay, val_prompts, console, run_config)
        self.make_optimizer()
        self.sampler = pipe.sampler(cfg.sampler, cfg.steps)
        if cfg.min_timestep > 0:
            # Below the gate the base denoises: the adapter may choose what a motion becomes at high noise
            # levels, but the details of every motion stay the base's own.
            pipe.adapter_min_timestep = cfg.min_timestep
        self.ranker = BestOfN(pipe, reward, cfg.candidates)
        self.round = 0

    def draw_prompts(self, round_: int) -> list[Prompt]:
        return draw_with_replay(self.prompts, self.replay, self.cfg.prompts_per_round, self.cfg.replay_fraction,
                                np.random.default_rng([self.cfg.seed, round_]))

    # ----------------------------------------------------------------------------------- sample phase

    @torch.no_grad()
    def sample(self, prompts: list[Prompt], generator: torch.Generator) -> tuple[Kept, dict]:
        frames = max(p.frames for p in prompts)  # one length for the round: the kept set stacks
        kept, masks, scores = [], [], []
        for i in range(0, len(prompts), self.cfg.sample_batch):
            chunk = prompts[i : i + self.cfg.sample_batch]
            best, chunk_scores = self.ranker.draw([p.text for p in chunk], [p.frames for p in chunk], self.sampler,
                                                  self.cfg.guidance, generator, frames=frames)
            kept.append(best.latents)
            masks.append(best.mask)
            scores.append(chunk_scores)
        scores_all = torch.cat(scores)
        finite = torch.isfinite(scores_all).any(1)  # a prompt whose every draw is broken teaches nothing
        top = torch.nan_to_num(scores_all, nan=-torch.inf).max(1).values
        cond = self.pipe.encode([p.text for p in prompts])
        kept_set = Kept(torch.cat(kept)[finite], torch.cat(masks)[finite], cond[finite])
        valid = scores_all[torch.isfinite(scores_all)]
        info = {"reward_mean": float(valid.mean()) if len(valid) else float("nan"),
                "reward_std": float(valid.std()) if len(valid) > 1 else float("nan"),
                "reward_kept": float(top[finite].mean()) if finite.any() else float("nan"),
                "within_prompt_std": float(np.nanmean(np.nanstd(scores_all.numpy(), axis=1))),
                "invalid": int((~torch.isfinite(scores_all)).sum()), "kept": int(finite.sum())}
        return kept_set, info

    # ----------------------------------------------------------------------------------- train phase

    def train(self, kept: Kept, generator: torch.Generator) -> dict:
        cfg = self.cfg
        if not len(kept.latents):
            return {"loss": float("nan"), "grad_norm": float("nan"), "skipped_batches": cfg.steps_per_round}
        losses, norms, skipped = [], [], 0
        for _ in range(cfg.steps_per_round):
            idx = torch.randint(len(kept.latents), (min(cfg.batch_size, len(kept.latents)),), generator=generator)
            self.opt.zero_grad(set_to_none=True)
            loss = denoising_loss(self.denoiser, self.pipe.schedule, kept.latents[idx],
                                  self.pipe.step_mask(kept.mask[idx]), kept.cond[idx], self.pipe.null,
                                  0.0 if cfg.guided_loss else self.cond_dropout, generator, cfg.min_timestep)
            if not torch.isfinite(loss):
                skipped += 1  # never touches the adapter
                continue
            loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)))
            self.opt.step()
            losses.append(loss.item())
        return {"loss": float(np.mean(losses)) if losses else float("nan"),
                "grad_norm": float(np.mean(norms)) if norms else float("nan"), "skipped_batches": skipped}

    def denoiser(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """What the distillation loss fits: the conditional branch, with the base's condition dropout (RAFT as
        published), or with ``guided_loss`` the guided prediction, so that sampling with the same CFG reproduces
        the kept samples instead of guiding them a second time. Measured h -> k (docs/results.md): the first
        narrows every prompt's samples round after round, the second keeps their spread but doubles FID."""
        if self.cfg.guided_loss:
            return guided_prediction(self.policy, x, t, cond, self.pipe.null, self.cfg.guidance, mask=mask)
        return self.policy(x, t, cond, mask)

    # ----------------------------------------------------------------------------------- validation, checkpoints

    def checkpoint(self) -> None:
        self.save_state({"round": str(self.round), "best": repr(self.best.best)})

    def resume(self) -> None:
        meta = self.load_state()
        if meta is None:
            return
        self.round, self.best.best = int(meta["round"]), float(meta["best"])
        self.console.print(f"resuming {self.out} at round {self.round}")

    # ----------------------------------------------------------------------------------- the loop

    def run(self, resume: bool = False, stop_after: int | None = None, tensorboard: bool = False) -> Path:
        cfg, out = self.cfg, self.out
        self.start(resume)
        bar = progress_bar("raft", self.console, unit=" rounds", reward="kept reward")
        with RunLog(out, "iteration", tensorboard) as log, bar:
            task = bar.add_task("raft", total=cfg.rounds, completed=self.round, reward=float("nan"))
            start = self.validate_start() if self.round == 0 else {}
            while self.round < cfg.rounds:
                r = self.round
                tic = time.time()
                kept, row = self.sample(self.draw_prompts(r), self._generator(r))
                t_sample = time.time() - tic
                row.update(self.train(kept, self._generator(r, salt=1)))
                row = {"iteration": r + 1, **row, "lr": cfg.lr, "seconds_sample": round(t_sample, 2),
                       "seconds_train": round(time.time() - tic - t_sample, 2)}
                if r == 0:
                    row.update(start)
                self.round = r + 1
                self.validate_into(row)
                log.write(row)
                bar.update(task, completed=self.round, reward=row["reward_kept"])
                self.checkpoint()
                if stop_after is not None and self.round >= stop_after:
                    break
        return self.finish()
