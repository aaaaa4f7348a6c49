"""Stage bookkeeping: each stage's folder holds ``.stage.json`` with the hash of the config that made it.

Paths in a stage's config are recorded relative to named anchors (the experiment folder, the shipped
checkpoints), so that an experiment folder copied or moved elsewhere, or opened from another clone,
reuses its finished stages instead of re-training them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from nomocap.checkpoint import atomic_write_text


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def portable(value: object, anchors: dict[str, Path]) -> object:
    """``value`` with every absolute path inside an anchor (resolved folders) written as ``{anchor}/relative/path``."""
    if isinstance(value, dict):
        return {k: portable(v, anchors) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(v, anchors) for v in value]
    if isinstance(value, (str, Path)) and Path(value).is_absolute():
        # As written first (a data folder linked into the experiment stays inside it), then with links resolved.
        for path in (Path(os.path.normpath(value)), Path(value).resolve()):
            for name, anchor in anchors.items():
                if path.is_relative_to(anchor):
                    return f"{{{name}}}/{path.relative_to(anchor).as_posix()}"
    return str(value) if isinstance(value, Path) else value


def run_stage(folder: Path, config: dict, fn: Callable[[Path], object], console: Console, name: str,
              anchors: dict[str, Path] | None = None) -> Path:
    """Run ``fn(folder)`` unless ``folder`` already finished with the same config; a changed config reruns it.

    ``anchors`` name the folders that paths in ``config`` are taken relative to (default: the stage's parent).
    """
    anchors = {name: path.resolve() for name, path in (anchors or {"experiment": folder.parent}).items()}
    marker = folder / ".stage.json"
    config = portable(config, anchors)
    digest = config_hash(config)
    if marker.exists():
        # The stored config made portable: markers written before paths were portable hold absolute ones.
        if config_hash(portable(json.loads(marker.read_text()).get("config", {}), anchors)) == digest:
            console.print(f"[dim]reusing {name}: {folder}")
            return folder
        if folder.is_symlink():  # rebuilding would delete another folder's finished stage
            raise ValueError(f"{name}: settings changed, but {folder} is a link to {folder.resolve()}; nothing was "
                             f"deleted. Remove the link (or use another --out) to rebuild the stage here.")
        console.print(f"[yellow]{name}: settings changed, rebuilding {folder}")
        shutil.rmtree(folder)
    elif folder.exists() and any(folder.iterdir()):
        console.print(f"{name}: continuing the unfinished stage in {folder}")
    fn(folder)
    atomic_write_text(marker, json.dumps({"hash": digest, "config": config}, default=str, indent=1) + "\n")
    return folder
