from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from nomocap.motion import rotations as R
from nomocap.motion.features import forward_kinematics
from nomocap.motion.skeleton import get_skeleton

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = FIXTURES / "humanml3d_sample"

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one pytest-xdist worker per core; a second torch thread each would only make them fight.
    torch.set_num_threads(1)


def random_motion(seed: int, frames: int = 80, skeleton: str = "t2m", rigid: bool = False) -> np.ndarray:
    """A varied, smooth joint motion made by forward kinematics of random joint-angle sinusoids,
    with a turning, walking root; bone lengths deliberately not the target ones (scaled).
    ``rigid`` composes rotations down the true hierarchy (the arms follow the spine)."""
    sk = get_skeleton(skeleton)
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / sk.fps
    freq = rng.uniform(0.2, 1.5, (1, sk.num_joints, 3))
    phase = rng.uniform(0, 2 * np.pi, (1, sk.num_joints, 3))
    amp = rng.uniform(0.05, 0.6, (1, sk.num_joints, 3))
    angles = amp * np.sin(2 * np.pi * freq * t[..., None] + phase)  # axis-angle per joint
    yaw = rng.uniform(-1, 1) * t[:, 0]
    angles[:, 0] = 0.0
    if rigid:  # bones leaving a branching joint (pelvis, upper spine) move with it, as on a real body
        parents = np.asarray(sk.parents)
        for joint in range(1, sk.num_joints):
            if (parents == parents[joint]).sum() > 1:
                angles[:, joint] = 0.0
    angles[:, 0, 1] = yaw
    mats = torch.as_tensor(angles)
    rot = _axis_angle_to_matrix(mats)
    speed = rng.uniform(0.0, 1.5)
    step = np.stack([np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], -1) * speed / sk.fps
    root = np.cumsum(step, 0) + np.array([rng.uniform(-2, 2), 0.95, rng.uniform(-2, 2)]) / sk.unit
    root[:, 1] += 0.03 * np.sin(2 * np.pi * 2 * t[:, 0]) / sk.unit
    joints = forward_kinematics(rot, torch.as_tensor(root), sk, branches_from_root=not rigid).numpy()
    return joints * rng.uniform(0.8, 1.2)


def _axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    angle = aa.norm(dim=-1, keepdim=True)
    axis = R.normalize(aa)
    quat = torch.cat([(angle / 2).cos(), axis * (angle / 2).sin()], dim=-1)
    return R.quat_to_matrix(quat)


@pytest.fixture
def sample_features() -> np.ndarray:
    return np.load(SAMPLE / "new_joint_vecs" / "012314.npy")


@pytest.fixture
def sample_joints() -> np.ndarray:
    return np.load(SAMPLE / "new_joints" / "012314.npy")


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """A tiny corpus, a base denoiser and a reward model on it: (data, base run, reward run), for RL tests."""
    from nomocap.data.synth.corpus import synthesize
    from nomocap.pretrain import PretrainConfig, pretrain
    from nomocap.retrieval.train import EmbeddingTrainConfig, train_embedding_model

    root = tmp_path_factory.mktemp("rl")
    data = synthesize(root / "h", "h", size=40, seed=1)
    pretrain(data, root / "base", PretrainConfig.from_preset("tiny", steps=40, text_encoder="hash"))
    train_embedding_model(data, root / "reward", EmbeddingTrainConfig.from_preset("retrieval", "tiny", steps=20,
                                                                                 text_encoder="hash"))
    return data, root / "base", root / "reward"


def assert_adapter_gated(tuned, plain, x: torch.Tensor, cond: torch.Tensor, mask, gate: int) -> None:
    """Below ``gate`` the adapted pipeline predicts exactly as the plain one; at the gate the adapter acts."""
    def both(t: int):
        tt = torch.full((len(x),), t)
        return tuned.predict_x0(x, tt, cond, mask, 2.5), plain.predict_x0(x, tt, cond, mask, 2.5)

    with torch.no_grad():
        torch.testing.assert_close(*both(gate - 1))  # below the gate: the base model, exactly
        with_adapter, without = both(gate)
    assert (with_adapter - without).abs().max() > 1e-4  # at and above it: the adapter
