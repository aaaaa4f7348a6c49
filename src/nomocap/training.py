"""The shared training loop: AdamW with warm-up and cosine decay, EMA weights, gradient clipping,
JSONL logging, a progress bar, atomic checkpoints and exact resume (weights, EMA, optimizer, data RNG,
dropout RNG and step are all in ``train_state.safetensors``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from nomocap.checkpoint import (
    CheckpointError,
    load_config,
    load_metadata,
    load_tensors,
    prefixed,
    save_config,
    save_tensors,
)
from nomocap.configs import load_preset
from nomocap.runlog import RunLog


@dataclass
class TrainConfig:
    """What every training run of the shared loop takes; presets fill it from ``configs/*.toml``."""

    text_encoder: str = "minilm"
    steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup: int = 100
    ema_decay: float = 0.99
    grad_clip: float = 1.0
    crop_frames: int = 196
    checkpoint_every: int = 250
    seed: int = 0
    model: dict = field(default_factory=dict)


def preset_values(section: str, preset: str, overrides: dict, arch: str | None = None) -> dict:
    """A preset's ``[section]`` table (and ``[section_ARCH]``) with the given non-None overrides applied."""
    return {**load_preset(section, preset, arch), **{k: v for k, v in overrides.items() if v is not None}}


def checked_preset(cls: type, section: str, preset: str, overrides: dict, what: str, arch: str | None = None):
    """``cls`` from a preset's ``[section]`` table (and ``[section_ARCH]``) plus overrides; an override ``cls``
    lacks fails, naming it."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown {what} setting(s) {unknown}; known: {', '.join(sorted(known))}")
    return cls(**preset_values(section, preset, overrides, arch))


def _lr_at(step: int, cfg, steps: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of ``cfg.lr``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], str]:
    """An optimizer's state as safetensors-ready tensors (``opt.*``) plus its param groups as JSON."""
    state = opt.state_dict()
    tensors = {f"opt.{i}.{k}": v for i, s in state["state"].items() for k, v in s.items()}
    return tensors, json.dumps(state["param_groups"])


def restore_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: str) -> None:
    """The inverse of ``optimizer_tensors`` (other keys in ``tensors`` are ignored)."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": json.loads(groups)})


def save_adapter_state(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, meta: dict[str, str]) -> None:
    """A LoRA run's resumable state: adapter weights (``lora.*``), optimizer, and the trainer's ``meta``."""
    state, groups = optimizer_tensors(opt)
    state.update({f"lora.{k}": v for k, v in model.state_dict().items() if "lora_" in k})
    save_tensors(path, state, {**meta, "param_groups": groups})


def continues_run(out: Path, config: dict, key: str, resume: bool) -> bool:
    """Whether ``out`` holds a run to continue; refuses one without ``resume`` or with other ``config[key]``."""
    if not (out / "train_state.safetensors").exists():
        return False
    if not resume:
        raise CheckpointError(f"{out} already holds a fine-tuning run; pass --resume or choose another --out")
    if load_config(out, kind="adapter").get(key) != config[key]:
        raise CheckpointError(f"{out}/config.json was written with other settings; resume needs the same ones")
    return True


def load_adapter_state(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer) -> dict[str, str]:
    """The inverse of ``save_adapter_state``: restores the adapters and the optimizer, returns the meta."""
    state, meta = load_tensors(path), load_metadata(path)
    model.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lora.")}, strict=False)
    restore_optimizer(opt, state, meta["param_groups"])
    return meta


def fit(model: torch.nn.Module, loss_fn: Callable[[int], torch.Tensor], folder: Path, steps: int, cfg,
        gen: torch.Generator, config: dict, extra: dict[str, torch.Tensor], resume: bool, console: Console, label: str,
        stop_after: int | None, tensorboard: bool = False) -> dict[str, torch.Tensor]:
    """Optimise ``loss_fn(step) -> loss`` over the model's trainable parameters; returns the EMA weights.

    ``cfg`` carries ``lr, weight_decay, warmup, grad_clip, ema_decay, checkpoint_every``.

    Checkpoints (``train_state.safetensors``: weights, EMA, optimizer, RNG, step; ``model.safetensors``:
    EMA weights plus ``extra``) are atomic; ``resume`` continues exactly where the last one left off.
    """
    if (folder / "train_state.safetensors").exists():
        if not resume:
            raise CheckpointError(f"{folder} already holds a run; pass --resume to continue it or choose another --out")
        previous = load_config(folder, kind=config["kind"])
        if previous.get("train") != config["train"] or previous.get("model") != config["model"]:
            raise CheckpointError(f"{folder}/config.json was written with other settings; resume needs the same "
                                  "preset, data and options (or start a fresh --out)")
    else:
        resume = False  # nothing to resume yet: a fresh start
    params = [p for p in model.parameters() if p.requires_grad]
    device = params[0].device
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    start = 0
    if resume and (folder / "train_state.safetensors").exists():
        state = load_tensors(folder / "train_state.safetensors")
        meta = load_metadata(folder / "train_state.safetensors")
        model.load_state_dict(prefixed(state, "model."))
        ema = {k: v.to(device) for k, v in prefixed(state, "ema.").items()}
        restore_optimizer(opt, state, meta["param_groups"])
        gen.set_state(state["rng.data"])
        torch.set_rng_state(state["rng.torch"])
        if device.type == "cuda" and "rng.cuda" in state:  # dropout draws from the GPU's own generator there
            torch.cuda.set_rng_state(state["rng.cuda"], device)
        start = int(meta["step"])
        if start < steps:
            console.print(f"resuming {folder} at step {start}")
    save_config(folder, config)

    def checkpoint(step: int) -> None:
        opt_tensors, groups = optimizer_tensors(opt)
        state = {**{f"model.{k}": v for k, v in model.state_dict().items()}, **{f"ema.{k}": v for k, v in ema.items()},
                 **opt_tensors, "rng.data": gen.get_state(), "rng.torch": torch.get_rng_state()}
        if device.type == "cuda":
            state["rng.cuda"] = torch.cuda.get_rng_state(device)
        save_tensors(folder / "train_state.safetensors", state, {"step": str(step), "param_groups": groups})
        save_tensors(folder / "model.safetensors", {**{f"model.{k}": v for k, v in ema.items()}, **extra},
                     {"step": str(step)})

    model.train()
    columns = (TextColumn(f"[bold]{label}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn())
    with RunLog(folder, "step", tensorboard) as log, Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=steps, completed=start, loss=float("nan"))
        tic = time.time()
        for step in range(start, steps):
            loss = loss_fn(step)
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"{label}: loss became {loss.item()} at step {step}; lower the learning rate")
            for group in opt.param_groups:
                group["lr"] = _lr_at(step, cfg, steps)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip))
            opt.step()
            with torch.no_grad():
                for k, v in model.state_dict().items():
                    if v.dtype.is_floating_point:
                        ema[k].mul_(cfg.ema_decay).add_(v, alpha=1 - cfg.ema_decay)
                    else:
                        ema[k].copy_(v)
            done = step + 1
            progress.update(task, completed=done, loss=loss.item())
            if done % 10 == 0 or done == steps:
                log.write({"step": done, "loss": round(loss.item(), 6), "lr": _lr_at(step, cfg, steps),
                           "grad_norm": round(grad_norm, 4), "seconds": round(time.time() - tic, 2)})
            if done % cfg.checkpoint_every == 0 or done == steps:
                checkpoint(done)
            if stop_after is not None and done >= stop_after:
                raise Stopped
    return ema


class Stopped(Exception):
    """Raised by ``stop_after`` to end a run the way a kill would."""


