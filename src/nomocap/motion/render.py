"""Stick-figure renders: one motion or a grid of motions side by side, as GIF (Pillow) or MP4 (ffmpeg).

Y is up. Each panel draws a floor grid, the ground track of the root and the caption above it.
Left limbs are drawn in blue, right limbs in red, the spine in black, so left/right errors are visible.

The camera is fixed (orthographic, ``camera_frame``), so the 3-D points are projected once with numpy and drawn as
2-D lines, and what never moves (floor, track, caption) is drawn once per file, not once per frame: with
matplotlib's 3-D axes redrawn every frame a report's 8-panel grid took ~15× longer to write
(``benchmarks/render.py``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from nomocap.motion.skeleton import Skeleton, get_skeleton  # noqa: E402

_SIDE_COLOURS = {"left": "#1f5fd6", "right": "#d62728", "centre": "#222222"}
ELEVATION, AZIMUTH = np.radians(18.0), np.radians(30.0)


def camera_frame(elevation: float = ELEVATION, azimuth: float = AZIMUTH) -> np.ndarray:
    """Rows: the screen's right, the screen's up, and the direction towards the camera, in world coordinates
    (Y up, a HumanML3D motion first facing +Z with its left at +X).

    ``azimuth`` 0 puts the camera in front of that first facing, positive turns it towards the motion's left;
    ``elevation`` lifts it above the floor. right × up = towards: a rotation, so nothing is mirrored.
    """
    se, ce, sa, ca = np.sin(elevation), np.cos(elevation), np.sin(azimuth), np.cos(azimuth)
    return np.array([[ca, 0.0, -sa], [-se * sa, ce, -se * ca], [ce * sa, se, ce * ca]])


def project(points: np.ndarray, elevation: float = ELEVATION,
            azimuth: float = AZIMUTH) -> tuple[np.ndarray, np.ndarray]:
    """World points ``[..., 3]`` -> screen ``[..., 2]`` and depth ``[...]`` (larger: nearer the camera), seen by an
    orthographic camera (``camera_frame``)."""
    camera = points @ camera_frame(elevation, azimuth).T
    return camera[..., :2], camera[..., 2]


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


def _sink(out: Path) -> Callable[[Iterator[np.ndarray], Path, float], None]:
    """How frames become a file of ``out``'s format; fails before anything is drawn when that cannot work."""
    suffix = out.suffix.lower()
    if suffix == ".gif":
        return _write_gif
    if suffix == ".mp4":
        if shutil.which("ffmpeg") is None:
            raise RuntimeError("MP4 needs ffmpeg on PATH (apt-get install ffmpeg); write a .gif instead")
        return _write_mp4
    raise ValueError(f"unsupported render format {suffix!r}: use .gif or .mp4")


def _write_gif(frames: Iterator[np.ndarray], path: Path, fps: float) -> None:
    first = Image.fromarray(next(frames))
    # One palette for all frames, from the first: every colour drawn (floor, track, limbs, captions) is in it.
    palette = first.quantize(256, method=Image.Quantize.FASTOCTREE)

    def indexed(image: Image.Image) -> Image.Image:  # 1 byte a pixel from here on, not 3
        return image.quantize(palette=palette, dither=Image.Dither.NONE)

    images = [indexed(first)] + [indexed(Image.fromarray(frame)) for frame in frames]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)


def _write_mp4(frames: Iterator[np.ndarray], path: Path, fps: float) -> None:
    first = next(frames)
    height, width = first.shape[:2]
    command = [shutil.which("ffmpeg") or "ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-",
               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", "-f", "mp4", str(path)]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        with contextlib.suppress(BrokenPipeError):  # ffmpeg stopped reading: its exit status and message say why
            try:
                for frame in itertools.chain([first], frames):
                    proc.stdin.write(np.ascontiguousarray(frame).tobytes())
            finally:
                proc.stdin.close()
        error = proc.stderr.read().decode(errors="replace")
    if proc.returncode:
        raise RuntimeError(f"ffmpeg failed (exit {proc.returncode}): {error.strip() or 'no message'}")


class _Panel:
    """One motion's axes: the static floor, root track and caption, and the skeleton's lines moved per frame."""

    def __init__(self, ax, mot: np.ndarray, caption: str, sk: Skeleton):
        self.ax = ax
        self.screen, self.depth = project(mot)
        centre = mot[:, 0, [0, 2]].mean(axis=0)
        extent = max(0.8, np.abs(mot[:, :, [0, 2]] - centre).max() + 0.15)
        height = max(1.9, mot[:, :, 1].max() + 0.1)
        ticks, ends = np.linspace(-extent, extent, 9), np.array([-extent, extent])
        floor = [np.stack([centre[0] + ends, np.zeros(2), centre[1] + [t, t]], axis=1) for t in ticks]
        floor += [np.stack([centre[0] + [t, t], np.zeros(2), centre[1] + ends], axis=1) for t in ticks]
        for segment in floor:
            ax.plot(*project(segment)[0].T, color="#cccccc", lw=0.6)
        self.track = project(np.stack([mot[:, 0, 0], np.zeros(len(mot)), mot[:, 0, 2]], axis=1))[0]
        ax.plot(*self.track.T, color="#ff9900", lw=1.0)
        box = project(np.array([[centre[0] + dx, y, centre[1] + dz] for dx in ends for dz in ends
                                for y in (0.0, height)]))[0]
        ax.set_xlim(box[:, 0].min(), box[:, 0].max())
        ax.set_ylim(box[:, 1].min(), box[:, 1].max())
        ax.set_aspect("equal")
        ax.set_anchor("N")  # every panel at the top of its cell: the captions line up
        ax.set_axis_off()
        ax.set_title("\n".join(textwrap.wrap(caption, 38)), fontsize=8)
        self.chains = [list(chain) for chain in sk.kinematic_chain]
        self.limbs = [ax.plot([], [], color=_chain_colour(chain, sk), lw=2.2, marker="o", markersize=2)[0]
                      for chain in self.chains]
        (self.root,) = ax.plot([], [], marker="o", color="#ff9900", markersize=3)

    def draw(self, frame: int) -> None:
        """Draw the skeleton at ``frame`` (held at its last pose past its end) over what is on the canvas."""
        t = min(frame, len(self.screen) - 1)
        self.root.set_data(*self.track[t : t + 1].T)
        self.ax.draw_artist(self.root)
        for chain, limb in sorted(zip(self.chains, self.limbs), key=lambda cl: self.depth[t, cl[0]].mean()):
            limb.set_data(*self.screen[t, chain].T)  # nearer limbs drawn last, over farther ones
            self.ax.draw_artist(limb)


def _frames(fig, panels: list[_Panel], frames: list[int]) -> Iterator[np.ndarray]:
    """RGB frames: what never moves (floors, tracks, captions) drawn once, each frame only the skeletons over it."""
    canvas = fig.canvas
    canvas.draw()  # the skeleton lines are still empty
    background = canvas.copy_from_bbox(fig.bbox)
    for frame in frames:
        canvas.restore_region(background)
        for panel in panels:
            panel.draw(frame)
        yield np.asarray(canvas.buffer_rgba())[..., :3].copy()


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
    out = Path(out)
    write = _sink(out)
    n = len(mots)
    cols = columns or min(n, 4)
    rows = -(-n // cols)
    fig = plt.figure(figsize=(panel_size * cols, panel_size * rows + 0.3 * rows))
    panels = [_Panel(fig.add_subplot(rows, cols, i + 1), mot, cap, sk) for i, (mot, cap) in enumerate(zip(mots, caps))]
    fig.tight_layout()
    frames = list(range(0, max(len(m) for m in mots), max(1, stride)))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}{out.suffix}")
    try:
        write(_frames(fig, panels, frames), tmp, sk.fps / max(1, stride))
        os.replace(tmp, out)
    except RuntimeError as err:
        raise RuntimeError(f"could not write {out}: {err}") from err
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return out


def render_motion(joints: np.ndarray, out: str | Path, caption: str = "", skeleton: str | Skeleton = "t2m",
                  stride: int = 2) -> Path:
    """Render one joint motion ``[T, J, 3]`` to ``out`` (.gif or .mp4)."""
    return render_grid([joints], out, [caption], skeleton=skeleton, stride=stride, panel_size=4.0)
