import bvhio
import numpy as np
import pytest
from conftest import SAMPLE, random_motion
from PIL import Image
from typer.testing import CliRunner

from nomocap.cli import app
from nomocap.motion.bvh import write_bvh
from nomocap.motion.features import canonicalize
from nomocap.motion.render import render_grid, render_motion
from nomocap.motion.skeleton import get_skeleton


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
        assert im.n_frames == len(range(0, len(sample_joints), 2))
        im.seek(im.n_frames // 2)
        pixels = np.asarray(im.convert("L"))
    assert (pixels < 100).mean() > 0.001  # a figure was drawn, not a blank canvas


def test_render_grid_side_by_side(tmp_path, sample_joints):
    other = canonicalize(random_motion(2))
    out = render_grid([sample_joints, other], tmp_path / "grid.gif", ["pretrained", "fine-tuned"], stride=4)
    with Image.open(out) as im:
        assert im.size[0] > im.size[1]


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
