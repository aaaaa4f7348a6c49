"""LoRA adapters on a denoiser via ``peft``: rank 4, alpha 4, on every attention and MLP projection.

The backbone is frozen; only adapter weights train (kept in float32). Adapters are saved as a plain
peft folder (``adapter_config.json`` + ``adapter_model.safetensors``), loadable with ``peft.PeftModel``.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn

from nomocap.models.layers import LORA_TARGETS


def add_lora(model: nn.Module, rank: int = 4, alpha: float = 4.0, dropout: float = 0.0,
             targets: list[str] | None = None, init: bool | str = True) -> PeftModel:
    """Wrap ``model`` with fresh LoRA adapters; everything but the adapters is frozen."""
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets or LORA_TARGETS,
                        init_lora_weights=init, bias="none")
    peft_model = get_peft_model(model, config)
    for name, param in peft_model.named_parameters():
        param.requires_grad = "lora_" in name
        if param.requires_grad:
            param.data = param.data.float()
    return peft_model


def frozen_with_lora(model: nn.Module, rank: int, alpha: float, seed: int) -> PeftModel:
    """``model`` frozen and in eval mode (no dropout), wrapped with fresh adapters whose init ``seed`` fixes."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    torch.manual_seed(seed)
    peft_model = add_lora(model, rank, alpha)
    peft_model.eval()
    return peft_model


def load_lora(model: nn.Module, adapter_dir: str | Path, trainable: bool = False) -> PeftModel:
    return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=trainable)


def check_adapter_scale(scale: float) -> None:
    if not (math.isfinite(scale) and scale >= 0):
        raise ValueError(f"--adapter-scale must be a finite number >= 0 (0: the base, 1: the adapter), got {scale}")


def scale_adapter(model: PeftModel, scale: float) -> PeftModel:
    """Multiply every adapter's weight change by ``scale``: 0 gives the base model, 1 the fine-tuned one.

    A LoRA update is ``B @ A * alpha / r``, linear in ``B``, so scaling ``B`` moves the weights along the straight
    line from the base to the fine-tuned model (WiSE-FT's interpolation) — in between it trades what fine-tuning
    gained against what the base knew; above 1 it extrapolates.
    """
    check_adapter_scale(scale)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.mul_(scale)
    return model


def load_adapter(model: nn.Module, adapter_dir: str | Path, base_run: str | Path, scale: float = 1.0) -> PeftModel:
    """Attach a fine-tuned adapter for inference (its change scaled by ``scale``), refusing one trained on another
    base model."""
    from nomocap.checkpoint import CheckpointError, load_tensors

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise CheckpointError(f"{adapter_dir} is not a LoRA adapter folder (no adapter_config.json)")
    expected = adapter_metadata(adapter_dir).get("fingerprint")
    if expected is not None and expected != base_fingerprint(load_tensors(Path(base_run) / "model.safetensors")):
        raise CheckpointError(f"{adapter_dir} was trained on another base model than {base_run}")
    peft_model = load_lora(model, adapter_dir)
    peft_model.eval()
    return scale_adapter(peft_model, scale) if scale != 1.0 else peft_model


def merge_adapter(base_run: str | Path, adapter_dir: str | Path, out: str | Path, force: bool = False,
                  scale: float = 1.0) -> Path:
    """Write a run folder whose weights are ``base_run``'s with the adapter (its change times ``scale``) merged in
    (peft's ``merge_and_unload``).

    The result is a plain base run: ``generate``, ``evaluate`` and a second ``finetune`` read it like any other,
    and it needs neither peft nor the adapter folder. A gated adapter (``min_timestep``) acts at some noise levels
    only, which one set of weights cannot express, so it is refused. Written beside ``out`` and renamed into place.
    """
    import json

    from nomocap.atomic import folder_in_place
    from nomocap.checkpoint import CheckpointError, load_tensors, save_config, save_tensors
    from nomocap.models.registry import load_denoiser

    base_run, adapter_dir, out = Path(base_run), Path(adapter_dir), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise CheckpointError(f"{out} exists and is not empty; remove it, choose another --out or pass --force")
    model, config = load_denoiser(base_run)
    adapted = load_adapter(model, adapter_dir, base_run, scale)
    gate = adapter_metadata(adapter_dir).get("min_timestep")
    if gate is not None:
        raise CheckpointError(f"{adapter_dir} acts only at timesteps >= {gate} (a gated adapter): merged weights would "
                              f"act at every noise level; use it with --adapter instead of merging it")
    merged = adapted.merge_and_unload()
    tensors = load_tensors(base_run / "model.safetensors")  # normalisation statistics ride along unchanged
    tensors.update({f"model.{k}": v for k, v in merged.state_dict().items()})
    config["merged_adapter"] = {"adapter": str(adapter_dir.resolve()), "base_run": str(base_run.resolve()),
                                "scale": scale,
                                "adapter_config": json.loads((adapter_dir / "adapter_config.json").read_text())}
    with folder_in_place(out) as tmp:
        save_tensors(tmp / "model.safetensors", tensors)
        save_config(tmp, config)
    return out


def save_adapter(model: PeftModel, folder: str | Path, base_run: str | Path, fingerprint: str,
                 min_timestep: int | None = None) -> None:
    """Write the peft folder plus ``base_model.json`` (base run, its fingerprint, the gate) atomically."""
    import json
    import shutil

    from nomocap.checkpoint import atomic_write_text

    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp")
    model.save_pretrained(str(tmp))
    atomic_write_text(tmp / "base_model.json", json.dumps({"base_run": str(Path(base_run).resolve()),
                                                           "fingerprint": fingerprint,
                                                           "min_timestep": min_timestep}) + "\n")
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)


def adapter_metadata(adapter_dir: str | Path) -> dict:
    """What nomocap stores beside a peft adapter (``base_model.json``: base fingerprint, ``min_timestep``)."""
    import json

    marker = Path(adapter_dir) / "base_model.json"
    return json.loads(marker.read_text()) if marker.is_file() else {}


def base_fingerprint(tensors: dict[str, torch.Tensor]) -> str:
    """A short hash of a base checkpoint's weights, stored with adapters to catch mismatches."""
    import hashlib

    h = hashlib.sha256()
    for key in sorted(tensors):
        h.update(key.encode())
        h.update(tensors[key].float().numpy().tobytes()[:4096])
    return h.hexdigest()[:16]


def trainable_parameters(model: nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]
