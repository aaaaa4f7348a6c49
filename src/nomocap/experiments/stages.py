"""Stage bookkeeping: each stage's folder holds ``.stage.json`` with the hash of the config that made it."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from nomocap.checkpoint import atomic_write_text


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_stage(folder: Path, config: dict, fn: Callable[[Path], object], console: Console, name: str) -> Path:
    """Run ``fn(folder)`` unless ``folder`` already finished with the same config; a changed config reruns it."""
    marker = folder / ".stage.json"
    digest = config_hash(config)
    if marker.exists():
        if json.loads(marker.read_text()).get("hash") == digest:
            console.print(f"[dim]reusing {name}: {folder}")
            return folder
        console.print(f"[yellow]{name}: settings changed, rebuilding {folder}")
        shutil.rmtree(folder)
    elif folder.exists() and any(folder.iterdir()):
        console.print(f"{name}: continuing the unfinished stage in {folder}")
    fn(folder)
    atomic_write_text(marker, json.dumps({"hash": digest, "config": config}, default=str, indent=1) + "\n")
    return folder
