"""What every post-training loop shares: seeded randomness, held-out validation, adapter checkpoints, the
run's config and progress bar. ``DDPOTrainer``, ``RAFTTrainer`` and ``DRaFTTrainer`` are ``AdapterTrainer``s."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from nomocap.checkpoint import load_tensors, save_config
from nomocap.data.prompts import Prompt
from nomocap.models.lora import base_fingerprint, frozen_with_lora, save_adapter, trainable_parameters
from nomocap.pipeline import MotionPipeline
from nomocap.rewards import Reward
from nomocap.rl.validation import BestAdapter, spread_prompts, validation_judge, validation_reward
from nomocap.training import continues_run, load_adapter_state, save_adapter_state


class AdapterTrainer:
    """A subclass checks its settings, calls ``AdapterTrainer.__init__`` (which wraps the base in LoRA adapters),
    then sets ``sampler`` and ``opt`` (``make_optimizer``) and defines ``resume``."""

    def __init__(self, pipe: MotionPipeline, reward: Reward, prompts: list[Prompt], cfg, out: str | Path,
                 base_run: str | Path, replay: list[Prompt] | None, val_prompts: list[Prompt] | None,
                 console: Console | None, run_config: dict | None, spread_val: bool = True):
        if not prompts:
            raise ValueError("no training prompts")
        self.pipe, self.reward, self.prompts, self.cfg = pipe, reward, prompts, cfg
        self.replay = replay or []
        # ``cfg.val_prompts`` of them: spread over the split (``spread_prompts``), or its first ones
        self.val = spread_prompts(val_prompts or [], cfg.val_prompts) if spread_val else \
            (val_prompts or [])[: cfg.val_prompts]
        self.out, self.base_run, self.console = Path(out), Path(base_run), console or Console()
        # Read once: every saved adapter carries it (the base checkpoint is never modified).
        self.base_fingerprint = base_fingerprint(load_tensors(self.base_run / "model.safetensors"))
        self.extra_config = run_config or {}
        self.policy = pipe.model = frozen_with_lora(pipe.model, cfg.lora_rank, cfg.lora_alpha, cfg.seed)
        self.best = BestAdapter(lambda: self.save_adapter(self.out / "best"))

    def make_optimizer(self) -> None:
        """AdamW over the adapters that train (call it after freezing any of them)."""
        self.params = trainable_parameters(self.policy)
        self.opt = torch.optim.AdamW(self.params, lr=self.cfg.lr, weight_decay=0.0)

    # Scores the held-out validation (which adapter is kept as ``best``) when set; else ``reward`` does: a model
    # the training did not climb. (Measured, docs/results.md: a second model trained on the same corpus shares what the
    # first can be hacked with — it is a check of a different kind only when trained on other data.)
    val_reward: Reward | None = None
    # When set, {name: held-out prompts} (``nomocap finetune --judge-prompts``: the target's and the replayed source's
    # val captions): every validation also logs ``judge_<name>``, the judge's accuracy on them — the task itself and
    # forgetting, watched during the run. Its noise is its own: the adapter trains the same with or without it.
    judge_sets: dict[str, list[Prompt]] | None = None

    def _generator(self, step: int, salt: int = 0) -> torch.Generator:
        """Step ``step``'s randomness comes from the seed and the step alone: a resumed run repeats itself."""
        return torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + step * 7919 + salt)

    def validate(self) -> float:
        return validation_reward(self.pipe, self.val_reward or self.reward, self.val, self.sampler, self.cfg.guidance,
                                 self._generator(0, salt=99))

    def validate_into(self, row: dict) -> None:
        """Add the held-out validation reward to a log row; keep the adapter as ``best`` when it is the best yet."""
        row["val_reward"] = self.validate()
        if self.best.offer(row["val_reward"]):
            row["best"] = True
        row.update(self.judge())

    def validate_start(self) -> dict:
        """The base model's validation, before any update (the zero adapter is ``best`` until an update beats it),
        as the first log row's ``val_reward_base`` (and ``judge_<name>_base``)."""
        value = self.validate()
        self.best.offer(value)
        return {"val_reward_base": value, **{f"{name}_base": v for name, v in self.judge().items()}}

    def judge(self) -> dict[str, float]:
        return {f"judge_{name}": validation_judge(self.pipe, prompts, self.sampler, self.cfg.guidance,
                                                  self._generator(0, salt=98))
                for name, prompts in (self.judge_sets or {}).items()}

    def save_adapter(self, folder: Path) -> None:
        save_adapter(self.policy, folder, self.base_run, self.base_fingerprint, self.pipe.adapter_min_timestep)

    def save_state(self, meta: dict[str, str]) -> None:
        """The last adapter, and everything resuming needs (adapter, optimiser, ``meta``), atomically."""
        self.save_adapter(self.out / "adapter")
        save_adapter_state(self.out / "train_state.safetensors", self.policy, self.opt, meta)

    def load_state(self) -> dict[str, str] | None:
        """Load the saved adapter and optimiser; the saved ``meta``, None when nothing was saved."""
        path = self.out / "train_state.safetensors"
        return load_adapter_state(path, self.policy, self.opt) if path.exists() else None

    def start(self, resume: bool) -> None:
        """Write ``OUT/config.json``, first continuing the run saved in OUT when ``resume`` asks (settings equal)."""
        config = self.run_config()
        if continues_run(self.out, config, self.cfg.method, resume):
            self.resume()
        save_config(self.out, config)

    def finish(self) -> Path:
        """A run whose updates never beat the base hands back the base (the zero adapter) as ``best``."""
        if not (self.out / "best").exists():
            self.save_adapter(self.out / "best")
        return self.out

    def run_config(self) -> dict:
        """``OUT/config.json`` of a fine-tuning run: the base, the method's settings under its name, and the
        caller's ``extra_config`` (reward run, prompt source)."""
        return {"kind": "adapter", "base_run": str(Path(self.base_run).resolve()), self.cfg.method: asdict(self.cfg),
                **self.extra_config}


def progress_bar(name: str, console: Console, unit: str = "", reward: str = "reward",
                 disable: bool = False) -> Progress:
    """A bar with ``completed/total unit`` and the last ``reward`` (the task's ``reward`` field)."""
    columns = (TextColumn(f"[bold]{name}"), BarColumn(), TextColumn("{task.completed}/{task.total}" + unit),
               TextColumn(reward + " {task.fields[reward]:.3f}"), TimeRemainingColumn())
    return Progress(*columns, console=console, disable=disable)
