"""Stick-figure renders: one motion or a grid of motions side by side, as GIF (Pillow) or MP4 (ffmpeg).

Y is up. Each panel draws a floor grid, the ground track of the root and the caption above it.
Left limbs are drawn in blue, right limbs in red, the spine in black, so left/right errors are visible.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import animation  # noqa: E402

from nomocap.motion.skeleton import Skeleton, get_skeleton  # noqa: E402

_SIDE_COLOURS = {"left": "#1f5fd6", "right": "#d62728", "centre": "#222222"}


def _chain_colour(chain: Sequence[int], sk: Skeleton) -> str:
    names = " ".join(sk.joint_names[j] for j in chain[1:])
    if "left" in names:
        return _SIDE_COLOURS["left"]
    if "right" in names:
        return _SIDE_COLOURS["right"]
    return _SIDE_COLOURS["centre"]


def _check_joints(joints: np.ndarray, sk: Skeleton) -> np.ndarray:
    arr = np.asarray(joints, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1:] != (sk.num_joints, 3):
        raise ValueError(f"render expects joints [T, {sk.num_joints}, 3] for {sk.name!r}, got {list(arr.shape)}")
    if not np.isfinite(arr).all():
        raise ValueError("cannot render a motion with NaN/Inf joints")
    return arr * sk.unit  # metres


def _writer(out: Path, fps: float):
    suffix = out.suffix.lower()
    if suffix == ".gif":
        return animation.PillowWriter(fps=fps)
    if suffix == ".mp4":
        if not animation.writers.is_available("ffmpeg"):
            raise RuntimeError("MP4 needs ffmpeg on PATH (apt-get install ffmpeg); write a .gif instead")
        return animation.FFMpegWriter(fps=fps, bitrate=1800)
    raise ValueError(f"unsupported render format {suffix!r}: use .gif or .mp4")


def render_grid(
    motions: Sequence[np.ndarray],
    out: str | Path,
    captions: Sequence[str] | None = None,
    skeleton: str | Skeleton = "t2m",
    columns: int | None = None,
    stride: int = 2,
    panel_size: float = 3.0,
) -> Path:
    """Render several joint motions ``[T, J, 3]`` side by side into one animation; returns the path.

    ``stride`` keeps every n-th frame (the GIF plays at ``fps / stride`` so timing stays real).
    """
    sk = get_skeleton(skeleton)
    if not motions:
        raise ValueError("nothing to render")
    mots = [_check_joints(m, sk) for m in motions]
    caps = list(captions) if captions is not None else [""] * len(mots)
    if len(caps) != len(mots):
        raise ValueError(f"{len(mots)} motions but {len(caps)} captions")
    n = len(mots)
    cols = columns or min(n, 4)
    rows = -(-n // cols)
    fig = plt.figure(figsize=(panel_size * cols, panel_size * rows + 0.3 * rows))
    num_frames = max(len(m) for m in mots)
    frames = list(range(0, num_frames, max(1, stride)))
    artists = []
    for idx, (mot, cap) in enumerate(zip(mots, caps)):
        ax = fig.add_subplot(rows, cols, idx + 1, projection="3d")
        artists.append(_setup_panel(ax, mot, cap, sk))
    fig.tight_layout()

    def update(frame: int):
        drawn = []
        for mot, (lines, dot) in zip(mots, artists):
            t = min(frame, len(mot) - 1)
            for chain, line in lines:
                pts = mot[t, list(chain)]
                line.set_data_3d(pts[:, 0], pts[:, 2], pts[:, 1])
                drawn.append(line)
            dot.set_data_3d([mot[t, 0, 0]], [mot[t, 0, 2]], [0.0])
            drawn.append(dot)
        return drawn

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = _writer(out, sk.fps / max(1, stride))
    anim = animation.FuncAnimation(fig, update, frames=frames, blit=False)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}{out.suffix}")
    try:
        anim.save(str(tmp), writer=writer)
        os.replace(tmp, out)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return out


def _setup_panel(ax, mot: np.ndarray, caption: str, sk: Skeleton):
    centre = mot[:, 0, [0, 2]].mean(axis=0)
    extent = max(0.8, np.abs(mot[:, :, [0, 2]] - centre).max() + 0.15)
    height = max(1.9, mot[:, :, 1].max() + 0.1)
    ax.set_xlim(centre[0] - extent, centre[0] + extent)
    ax.set_ylim(centre[1] - extent, centre[1] + extent)
    ax.set_zlim(0, height)
    ax.set_box_aspect((1, 1, height / (2 * extent)), zoom=1.35)
    ax.view_init(elev=18, azim=-65)
    ax.set_axis_off()
    grid = np.linspace(-extent, extent, 9)
    for g in grid:
        ax.plot([centre[0] + g] * 2, [centre[1] - extent, centre[1] + extent], [0, 0], color="#cccccc", lw=0.6)
        ax.plot([centre[0] - extent, centre[0] + extent], [centre[1] + g] * 2, [0, 0], color="#cccccc", lw=0.6)
    ax.plot(mot[:, 0, 0], mot[:, 0, 2], np.zeros(len(mot)), color="#ff9900", lw=1.0)
    ax.set_title("\n".join(textwrap.wrap(caption, 38)), fontsize=8)
    lines = []
    for chain in sk.kinematic_chain:
        (line,) = ax.plot([], [], [], color=_chain_colour(chain, sk), lw=2.2, marker="o", markersize=2)
        lines.append((chain, line))
    (dot,) = ax.plot([], [], [], marker="o", color="#ff9900", markersize=3)
    return lines, dot


def render_motion(joints: np.ndarray, out: str | Path, caption: str = "", skeleton: str | Skeleton = "t2m",
                  stride: int = 2) -> Path:
    """Render one joint motion ``[T, J, 3]`` to ``out`` (.gif or .mp4)."""
    return render_grid([joints], out, [caption], skeleton=skeleton, stride=stride, panel_size=4.0)
