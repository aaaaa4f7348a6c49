"""Run folders: ``config.json`` plus safetensors files, every write atomic (temp file, then rename).

Nothing here unpickles: tensors come from safetensors, settings from JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


class CheckpointError(ValueError):
    """A run folder is missing, damaged or of the wrong kind; the message names the file and the fix."""


def atomic_write_text(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors file ({err})") from None


def prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries under ``prefix`` with the prefix removed (``model.`` weights, ``ema.`` weights...)."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_weights(model: torch.nn.Module, run: str | Path) -> dict[str, torch.Tensor]:
    """Load ``run/model.safetensors``'s ``model.*`` weights into ``model`` (eval mode); returns every tensor
    of the file (normalisation stats and the like ride along)."""
    tensors = load_tensors(Path(run) / "model.safetensors")
    try:
        model.load_state_dict(prefixed(tensors, "model."))
    except RuntimeError as err:
        raise CheckpointError(f"{run}/model.safetensors does not fit its config.json ({str(err)[:200]})") from None
    model.eval()
    return tensors


def load_metadata(path: str | Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def save_config(folder: str | Path, config: dict) -> None:
    atomic_write_text(Path(folder) / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n")


def load_config(folder: str | Path, kind: str | None = None) -> dict:
    """Read ``folder/config.json``; with ``kind``, refuse a run of another kind (e.g. a reward model)."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{path} not found: {folder} is not a nomocap run folder")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is not valid JSON ({err})") from None
    if kind is not None and config.get("kind") != kind:
        raise CheckpointError(f"{folder} holds a {config.get('kind', 'unknown')!r} run, expected a {kind!r} run")
    return config
