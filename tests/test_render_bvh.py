import os
import stat

import bvhio
import numpy as np
import pytest
from conftest import SAMPLE, random_motion
from PIL import Image
from typer.testing import CliRunner

from nomocap.cli import app
from nomocap.motion.bvh import write_bvh
from nomocap.motion.features import canonicalize
from nomocap.motion.render import camera_frame, project, render_grid, render_motion
from nomocap.motion.skeleton import T2M, get_skeleton


def read_bvh_positions(path, skeleton="t2m"):
    """Joint positions per frame as computed by an independent BVH reader (bvhio)."""
    sk = get_skeleton(skeleton)
    root = bvhio.readAsHierarchy(str(path))
    layout = [joint for joint, _, _ in root.layout()]
    order = [sk.joint_names.index(j.Name) for j in layout]
    frames = []
    for t in range(len(root.Keyframes)):
        root.loadPose(t)
        pos = np.zeros((sk.num_joints, 3))
        pos[order] = [list(j.PositionWorld) for j in layout]
        frames.append(pos)
    return np.stack(frames)


def test_bvh_round_trip_real_motion(tmp_path, sample_joints):
    path = write_bvh(sample_joints, tmp_path / "m.bvh")
    assert np.abs(read_bvh_positions(path) - sample_joints).max() < 1e-3


def test_bvh_round_trip_synthetic_rigid_motion(tmp_path):
    joints = canonicalize(random_motion(4, rigid=True))  # rigid bones, target lengths
    path = write_bvh(joints, tmp_path / "m.bvh")
    assert np.abs(read_bvh_positions(path) - joints).max() < 1e-3


def test_render_real_motion_gif(tmp_path, sample_joints):
    out = render_motion(sample_joints, tmp_path / "012314.gif", "a person walks and turns")
    with Image.open(out) as im:
        # Timing stays real: every second frame shown for two frames' time (Pillow merges identical neighbours).
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
        assert sum(durations) == pytest.approx(len(range(0, len(sample_joints), 2)) * 2000 / T2M.fps, abs=im.n_frames)
        im.seek(im.n_frames // 2)
        pixels = np.asarray(im.convert("L"))
    assert (pixels < 100).mean() > 0.001  # a figure was drawn, not a blank canvas


def test_render_grid_side_by_side(tmp_path, sample_joints):
    other = canonicalize(random_motion(2))
    out = render_grid([sample_joints, other], tmp_path / "grid.gif", ["pretrained", "fine-tuned"], stride=4)
    with Image.open(out) as im:
        assert im.size[0] > im.size[1]


def rest_pose(frames: int = 1) -> np.ndarray:
    """The t2m skeleton standing in its rest pose (arms out, facing +Z, its left at +X), feet on the floor."""
    joints = np.zeros((T2M.num_joints, 3))
    for j, parent in enumerate(T2M.parents):
        if parent >= 0:
            joints[j] = joints[parent] + T2M.offsets[j]
    joints[:, 1] -= joints[:, 1].min()
    return np.repeat(joints[None], frames, axis=0)


def test_the_camera_is_a_rotation_and_keeps_the_left_side_left():
    for elevation, azimuth in [(0.0, 0.0), (0.3, 0.5), (1.2, -2.5)]:
        frame = camera_frame(elevation, azimuth)
        assert np.allclose(frame @ frame.T, np.eye(3)) and np.linalg.det(frame) == pytest.approx(1.0)
    pose = rest_pose()[0]
    left, right, head, toe = (T2M.joint_names.index(n) for n in ("left_wrist", "right_wrist", "head", "left_foot"))
    screen, depth = project(pose, 0.0, 0.0)  # in front of the figure: its left on the viewer's right
    assert screen[left, 0] > screen[right, 0] and screen[head, 1] > screen[toe, 1]
    assert depth[toe] > depth[T2M.joint_names.index("left_ankle")]  # the toes point at the camera
    screen, depth = project(pose, 0.0, np.pi)  # from behind: on the viewer's left, and the toes point away
    assert screen[left, 0] < screen[right, 0] and depth[toe] < depth[T2M.joint_names.index("left_ankle")]
    # Lifting the camera foreshortens a vertical bone by cos(elevation) (orthographic): closed form.
    bone = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert np.ptp(project(bone, 0.4, 1.0)[0][:, 1]) == pytest.approx(np.cos(0.4))


def test_render_does_not_mirror_left_and_right(tmp_path):
    """The picture itself: a figure facing the default camera shows its left limbs (blue) on the viewer's right."""
    out = render_motion(rest_pose(8), tmp_path / "rest.gif", "rest pose")
    with Image.open(out) as im:
        rgb = np.asarray(im.convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    blue = np.argwhere((b > 150) & (r < 100))[:, 1]
    red = np.argwhere((r > 150) & (b < 100) & (g < 100))[:, 1]
    assert len(blue) > 50 and len(red) > 50 and blue.mean() > red.mean() + 20


def test_mp4_frames_are_piped_to_ffmpeg(tmp_path, monkeypatch):
    """Without an ffmpeg here, a stand-in on PATH records what it was given: every frame as raw RGB at the size
    and rate it was told; a failing ffmpeg is an error that names the file and leaves nothing behind."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "ffmpeg"
    fake.write_text('#!/bin/sh\necho "$@" > "$FAKE_ARGS"\n[ -n "$FAKE_EARLY" ] && { echo "bad option" >&2; exit 8; }\n'
                    'for last; do :; done\ncat > "$last"\nexit "$FAKE_RC"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ARGS", str(tmp_path / "args.txt"))
    monkeypatch.setenv("FAKE_RC", "0")
    motion = random_motion(0, frames=12)
    out = render_motion(motion, tmp_path / "m.mp4", stride=3)
    args = (tmp_path / "args.txt").read_text().split()
    width, height = map(int, args[args.index("-s") + 1].split("x"))
    assert out.stat().st_size == 4 * width * height * 3  # frames 0, 3, 6, 9
    assert float(args[args.index("-r") + 1]) == pytest.approx(T2M.fps / 3)
    monkeypatch.setenv("FAKE_RC", "1")
    with pytest.raises(RuntimeError, match="bad.mp4"):
        render_motion(motion, tmp_path / "bad.mp4")
    assert not (tmp_path / "bad.mp4").exists() and not list(tmp_path.glob(".bad*"))
    monkeypatch.setenv("FAKE_EARLY", "1")  # an ffmpeg that quits before reading a frame: its message, not a broken pipe
    with pytest.raises(RuntimeError, match="exit 8.*bad option"):
        render_motion(random_motion(0, frames=60), tmp_path / "early.mp4")
    assert not list(tmp_path.glob("*early*"))


def test_render_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        render_motion(np.full((10, 22, 3), np.nan), tmp_path / "x.gif")
    with pytest.raises(ValueError, match="format"):
        render_motion(random_motion(0), tmp_path / "x.avi")


def test_cli_render_from_features_and_bvh(tmp_path):
    runner = CliRunner()
    feats = str(SAMPLE / "new_joint_vecs" / "012314.npy")
    result = runner.invoke(app, ["render", feats, "--out", str(tmp_path / "a.gif"), "--stride", "8"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["render", feats, "--out", str(tmp_path / "a.bvh")])
    assert result.exit_code == 0 and (tmp_path / "a.bvh").read_text().startswith("HIERARCHY")
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not an array")
    result = runner.invoke(app, ["render", str(bad), "--out", str(tmp_path / "b.gif")])
    assert result.exit_code == 2 and "bad.npy" in result.output
