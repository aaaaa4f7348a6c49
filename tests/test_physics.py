"""Physics penalties: closed forms, a frame-by-frame brute force, the batched masked form against motions one at a
time, KIT's feet, and the differentiable form (what DRaFT climbs) against the plain one and finite differences."""

import numpy as np
import pytest
import torch
from conftest import random_motion

from nomocap.motion.features import joints_to_features
from nomocap.motion.representation import get_representation
from nomocap.motion.skeleton import KIT, T2M
from nomocap.rewards import MotionBatch, WeightedSum
from nomocap.rewards.physics import (
    FootSkating,
    GroundPenetration,
    Jitter,
    foot_skating,
    foot_skating_batch,
    ground_penetration,
    ground_penetration_batch,
    jitter,
    jitter_batch,
)


def standing(frames: int = 30, joints: int = 22) -> np.ndarray:
    still = np.zeros((frames, joints, 3))
    still[:, :, 1] = 0.02
    return still


def test_penalties_on_known_motions():
    still = standing()
    assert foot_skating(still) == 0.0 and ground_penetration(still) == 0.0 and jitter(still) == 0.0
    sliding = still.copy()
    sliding[:, :, 0] = np.arange(30)[:, None] * 0.05  # 1 m/s at 20 fps while on the ground
    assert foot_skating(sliding) == pytest.approx(1.0)
    assert jitter(sliding) == pytest.approx(0.0, abs=1e-9)  # constant velocity has no jerk
    lifted = sliding.copy()
    lifted[:, :, 1] = 0.5  # the same slide in the air is no skating
    assert foot_skating(lifted) == 0.0
    sunk = still.copy()
    sunk[:, :, 1] = -0.1
    assert ground_penetration(sunk) == pytest.approx(0.1)
    cubic = still.copy()
    cubic[:, :, 2] = 1e-3 * np.arange(30)[:, None] ** 3  # third difference 6e-3 m per frame^3
    assert jitter(cubic) == pytest.approx(6e-3 * 20.0**3)


def brute_force_skating(joints: np.ndarray, feet: list[int], heights: list[float], fps: float) -> float:
    speeds = []
    for t in range(len(joints) - 1):
        for foot, height in zip(feet, heights):
            a, b = joints[t, foot], joints[t + 1, foot]
            if a[1] < height and b[1] < height:
                speeds.append(np.hypot(b[0] - a[0], b[2] - a[2]) * fps)
    return float(np.mean(speeds)) if speeds else 0.0


def test_skating_against_a_frame_by_frame_brute_force_on_both_skeletons():
    rng = np.random.default_rng(0)
    for sk, feet in ((T2M, [7, 10, 8, 11]), (KIT, [18, 20, 13, 15])):
        joints = rng.normal(0, 0.05, (40, sk.num_joints, 3)).cumsum(0)
        joints[..., 1] = rng.uniform(0.0, 0.15, (40, sk.num_joints))  # in and out of contact
        expected = brute_force_skating(joints, feet, [0.10, 0.05, 0.10, 0.05], sk.fps)
        assert foot_skating(joints, sk) == pytest.approx(expected, rel=1e-9)


def test_batched_masked_measures_equal_one_motion_at_a_time():
    lengths = [40, 25, 3, 1]
    motions = [random_motion(i, frames=n) if n > 3 else np.random.default_rng(i).normal(size=(n, 22, 3))
               for i, n in enumerate(lengths)]
    for m in motions[:2]:
        m[..., 1] -= m[..., 1].min() + 0.01  # below the floor here and there
    padded = torch.zeros(len(lengths), 40, 22, 3, dtype=torch.float64)
    for i, m in enumerate(motions):
        padded[i, : len(m)] = torch.from_numpy(m)
    padded[2:, 3:] = 1e3  # what lies past a motion's end must not count
    mask = torch.arange(40)[None] < torch.tensor(lengths)[:, None]
    for batch, one in ((foot_skating_batch, foot_skating), (ground_penetration_batch, ground_penetration),
                       (jitter_batch, jitter)):
        torch.testing.assert_close(batch(padded, mask, T2M), torch.tensor([one(m) for m in motions],
                                                                         dtype=torch.float64))


@pytest.mark.parametrize("penalty", [FootSkating, GroundPenetration, Jitter])
def test_differentiable_penalty_equals_the_penalty_and_its_finite_differences(penalty):
    lengths = [48, 32]
    feats = [joints_to_features(random_motion(10 + i, frames=n + 1), T2M) for i, n in enumerate(lengths)]
    for f in feats:
        f[:, [3, *range(5, 4 + 21 * 3, 3)]] -= 0.03  # every joint's height: the feet dip below the floor at times
    features = torch.zeros(2, 48, T2M.feature_dim, dtype=torch.float64)
    for i, f in enumerate(feats):
        features[i, : len(f)] = torch.from_numpy(f)
    mask = torch.arange(48)[None] < torch.tensor([len(f) for f in feats])[:, None]
    reward = penalty(T2M)
    plain, _ = reward(MotionBatch(feats, get_representation("guo", T2M)), ["a", "b"])
    scores = reward.differentiable(features, mask, ["a", "b"])
    assert (scores < 0).all()
    torch.testing.assert_close(scores.float(), plain, atol=1e-4, rtol=1e-4)

    features.requires_grad_(True)
    reward.differentiable(features, mask, ["a", "b"]).sum().backward()
    direction = torch.randn(features.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * mask[
        ..., None]
    eps = 1e-8  # the jerk's norm bends sharply where a joint's jerk is near 0 (4e-5 here)
    with torch.no_grad():
        up = reward.differentiable(features + eps * direction, mask, ["a", "b"]).sum()
        down = reward.differentiable(features - eps * direction, mask, ["a", "b"]).sum()
    assert float((features.grad * direction).sum()) == pytest.approx(float(up - down) / (2 * eps), rel=1e-4, abs=1e-7)


def test_weighted_sum_logs_each_differentiable_term_and_refuses_wrong_features():
    features = torch.from_numpy(joints_to_features(random_motion(3, frames=41), T2M))[None]
    mask = torch.ones(features.shape[:2], dtype=torch.bool)
    total = WeightedSum([(FootSkating(), 2.0), (Jitter(), 0.001)])
    info: dict[str, float] = {}
    value = total.differentiable(features, mask, ["a"], info)
    assert set(info) == {"reward/foot_skating", "reward/jitter"}
    assert float(value) == pytest.approx(2.0 * info["reward/foot_skating"] + 0.001 * info["reward/jitter"])
    with pytest.raises(ValueError, match="kit"):
        FootSkating("kit").differentiable(features, mask, ["a"])
