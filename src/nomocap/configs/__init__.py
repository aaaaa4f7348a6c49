"""Presets as data: ``tiny`` (CPU tests, seconds), ``small`` (CPU demo, minutes), ``paper`` (GPU)."""

from __future__ import annotations

import tomllib
from pathlib import Path

PRESETS = ("tiny", "small", "paper")


def load_preset(section: str, name: str, arch: str | None = None) -> dict:
    """The ``[section]`` table of ``configs/NAME.toml``, with its ``[section_ARCH]`` table over it if there is one
    (settings that differ by architecture, e.g. ``[finetune_mld]``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    data = tomllib.loads((Path(__file__).parent / f"{name}.toml").read_text())
    if section not in data:
        raise ValueError(f"preset {name!r} has no [{section}] table")
    return {**data[section], **data.get(f"{section}_{arch}", {})} if arch else data[section]
