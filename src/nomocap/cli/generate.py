"""Sampling motions and writing them: .npy, BVH, stick-figure GIF/MP4."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from nomocap.cli.common import (
    ADAPTER_SCALE,
    DEVICE,
    GUIDANCE,
    SAMPLING_STEPS,
    SEED,
    app,
    console,
    fail,
    resolve_device,
)


@app.command("generate")
def generate(
    prompts: list[str] = typer.Argument(..., help="one or more text prompts"),
    model: Path = typer.Option(..., help="pretraining run folder"),
    out: Path = typer.Option(..., "--out", "-o", help="x.npy (joints; features with --features), x.gif, x.mp4, x.bvh"),
    adapter: Path = typer.Option(None, help="LoRA adapter folder from finetune (e.g. RUN/best)"),
    adapter_scale: float = ADAPTER_SCALE,
    length: float = typer.Option(None, help="seconds (default 6 s); at most 9.8 s"),
    sampler: str = typer.Option("dpm++", help="dpm++ (2M), sde-dpm++, ddim or ddpm"),
    steps: int = SAMPLING_STEPS,
    guidance: float = GUIDANCE,
    num_samples: int = typer.Option(1, help="samples per prompt"),
    features: bool = typer.Option(False, help="write 263-d features instead of joints (.npy)"),
    device: str = DEVICE,
    seed: int = SEED,
) -> None:
    """Generate motions from text.

    Example: nomocap generate --model runs/base_h "a person waves with the left hand" --out wave.gif
    """
    import torch

    from nomocap.checkpoint import CheckpointError
    from nomocap.pipeline import MotionPipeline, frames_for

    try:
        pipe = MotionPipeline.from_run(model, resolve_device(device), model / ".text_cache", adapter, adapter_scale)
        frames = frames_for(length, pipe.fps)
        texts = [p for p in prompts for _ in range(num_samples)]
        samples = pipe.sample(texts, [frames] * len(texts), pipe.sampler(sampler, steps), guidance,
                              torch.Generator().manual_seed(seed))
    except (ValueError, CheckpointError) as err:
        fail(str(err))
    _write_motions(pipe, samples, texts, out, features)


def _write_motions(pipe, samples, texts: list[str], out: Path, as_features: bool) -> None:
    from nomocap.motion.bvh import write_bvh
    from nomocap.motion.render import render_grid

    suffix = out.suffix.lower()
    joints = pipe.to_joints(samples)
    paths = [out] if len(texts) == 1 or suffix in (".gif", ".mp4") else [
        out.with_name(f"{out.stem}_{i:02d}{out.suffix}") for i in range(len(texts))]
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        if as_features and pipe.representation.name != "guo":
            fail(f"--features writes HumanML3D features; this model works in {pipe.representation.name!r}")
        arrays = pipe.to_features(samples) if as_features else joints
        for path, arr in zip(paths, arrays):
            np.save(path, arr.astype(np.float32))
    elif suffix == ".bvh":
        for path, arr in zip(paths, joints):
            write_bvh(arr, path, pipe.skeleton)
    elif suffix in (".gif", ".mp4"):
        render_grid(joints, out, texts, skeleton=pipe.skeleton, columns=min(4, len(texts)))
    else:
        fail(f"unsupported output {out.name}: use .npy, .gif, .mp4 or .bvh")
    for path in paths:
        console.print(f"wrote {path}")


@app.command("render")
def render(
    motion: Path = typer.Argument(..., help="a .npy of joints [T, J, 3] or features [T, D]"),
    out: Path = typer.Option(..., "--out", "-o", help="x.gif, x.mp4 or x.bvh"),
    caption: str = typer.Option("", help="text shown above the figure"),
    skeleton: str = typer.Option(None, help="t2m or kit; inferred from the array's shape when omitted"),
    stride: int = typer.Option(2, min=1, help="keep every n-th frame in GIF/MP4"),
    mean: Path = typer.Option(None, help="Mean.npy to de-normalise normalised features (with --std)"),
    std: Path = typer.Option(None, help="Std.npy to de-normalise normalised features"),
) -> None:
    """Render a motion file as a stick figure (GIF/MP4) or export it as BVH.

    Example: nomocap render data/h/new_joints/000001.npy --out walk.gif --caption "a person walks"
    """
    from nomocap.motion.features import Normalizer
    from nomocap.motion.io import load_joints
    from nomocap.motion.render import render_motion

    try:
        normalizer = Normalizer(np.load(mean), np.load(std)) if mean and std else None
        joints, sk = load_joints(motion, skeleton, normalizer)
    except (ValueError, OSError) as err:
        fail(f"{motion}: {err}")
    suffix = out.suffix.lower()
    try:
        if suffix == ".bvh":
            from nomocap.motion.bvh import write_bvh

            write_bvh(joints, out, sk)
        else:
            render_motion(joints, out, caption, sk, stride=stride)
    except (ValueError, RuntimeError) as err:
        fail(str(err))
    console.print(f"wrote {out}")
