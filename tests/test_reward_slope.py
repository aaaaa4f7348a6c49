"""benchmarks/reward_slope.py's hand edits against closed forms (the joints moved, by how much, and nothing else)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from reward_slope import L_ELBOW, R_ELBOW, edited  # noqa: E402

from nomocap.data.synth.judge import L_HIP, L_WRIST, R_HIP, R_WRIST  # noqa: E402


def _pose(frames: int = 5) -> np.ndarray:
    rng = np.random.default_rng(0)
    joints = rng.normal(size=(frames, 22, 3))
    joints[:, L_HIP] = [0.1, 0.9, 0.0]
    joints[:, R_HIP] = [-0.1, 0.9, 0.0]  # the hip axis is -x, level
    return joints


def test_raise_lifts_wrists_by_the_amount_and_elbows_by_half_and_nothing_else():
    joints = _pose()
    out = edited(joints, "raise", 0.1)
    delta = out - joints
    np.testing.assert_allclose(delta[:, [L_WRIST, R_WRIST], 1], 0.1)
    np.testing.assert_allclose(delta[:, [L_ELBOW, R_ELBOW], 1], 0.05)
    delta[:, [L_WRIST, R_WRIST, L_ELBOW, R_ELBOW], 1] = 0
    assert not delta.any()
    assert np.array_equal(joints, _pose())  # the input is not touched


@pytest.mark.parametrize("amount", [-0.06, 0.12])
def test_apart_moves_the_wrists_along_the_hip_axis_by_the_amount(amount):
    joints = _pose()
    joints[:, [L_WRIST, R_WRIST]] = [0.0, 1.2, 0.3]  # hands together in front
    out = edited(joints, "apart", amount)
    gap = out[:, L_WRIST] - out[:, R_WRIST]
    np.testing.assert_allclose(gap, np.broadcast_to([amount, 0.0, 0.0], gap.shape), atol=1e-12)  # left is +x here
    np.testing.assert_allclose(out[:, [L_WRIST, R_WRIST]].mean(1), joints[:, [L_WRIST, R_WRIST]].mean(1))


def test_an_unknown_edit_is_refused():
    with pytest.raises(ValueError, match="raise or apart"):
        edited(_pose(), "lower", 0.1)
