"""Build a denoiser from a run's config; refuse checkpoints of another architecture or shape."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from nomocap.checkpoint import CheckpointError, load_config, load_tensors, load_weights
from nomocap.models.mdm import MDM, MDMConfig
from nomocap.models.mld import LatentDenoiser, MLDConfig

ARCHS = ("mdm", "mld")


def build_denoiser(arch: str, model_config: dict) -> nn.Module:
    if arch == "mdm":
        return MDM(MDMConfig(**model_config))
    if arch == "mld":
        return LatentDenoiser(MLDConfig(**model_config))
    raise CheckpointError(f"unknown architecture {arch!r}: choose one of {', '.join(ARCHS)}")


def load_denoiser(run: str | Path, expected_arch: str | None = None) -> tuple[nn.Module, dict]:
    """The EMA denoiser of a pretraining run (``model.safetensors``) and the run's config."""
    config = load_config(run, kind="denoiser")
    if expected_arch is not None and config["arch"] != expected_arch:
        raise CheckpointError(f"{run} holds a {config['arch']!r} model, but --arch {expected_arch} was asked for")
    model = build_denoiser(config["arch"], config["model"])
    load_weights(model, run)
    return model, config


def normalizer_tensors(run: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    tensors = load_tensors(Path(run) / "model.safetensors")
    return tensors["normalizer.mean"], tensors["normalizer.std"]
