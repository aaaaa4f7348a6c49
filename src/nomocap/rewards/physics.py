"""Physical plausibility from joints (metres, Y up, floor at 0): foot skating, ground penetration, jitter.

Each reward is a penalty: the score is minus the measured quantity, so higher is better.
"""

from __future__ import annotations

import numpy as np
import torch

from nomocap.rewards import MotionBatch

FOOT_JOINTS = (7, 8, 10, 11)  # ankles, toes
CONTACT_HEIGHT = np.array([0.10, 0.10, 0.05, 0.05])  # metres: ankle joints sit higher than toe joints


def foot_skating(joints: np.ndarray, fps: float) -> float:
    """Mean horizontal speed (m/s) of foot joints while they touch the ground."""
    feet = joints[:, FOOT_JOINTS]
    contact = (feet[1:, :, 1] < CONTACT_HEIGHT) & (feet[:-1, :, 1] < CONTACT_HEIGHT)
    speed = np.linalg.norm(np.diff(feet[..., [0, 2]], axis=0), axis=-1) * fps
    return float((speed * contact).sum() / max(contact.sum(), 1))


def ground_penetration(joints: np.ndarray) -> float:
    """Mean depth (m) below the floor of the lowest foot joint."""
    return float(np.maximum(0.0, -joints[:, FOOT_JOINTS, 1].min(axis=1)).mean())


def jitter(joints: np.ndarray, fps: float) -> float:
    """Mean magnitude of joint jerk (third time derivative), in m/s^3."""
    if len(joints) < 4:
        return 0.0
    return float(np.linalg.norm(np.diff(joints, 3, axis=0), axis=-1).mean() * fps**3)


class _JointPenalty:
    def __init__(self, name: str, measure):
        self.name, self.measure = name, measure

    def __call__(self, motions: MotionBatch, prompts: list[str]) -> tuple[torch.Tensor, dict[str, float]]:
        fps = motions.representation.skeleton.fps
        scale = motions.representation.skeleton.unit
        scores = torch.tensor([-self.measure(j * scale, fps) if j is not None else float("nan")
                               for j in motions.joints], dtype=torch.float32)
        return scores, {}


def FootSkating() -> _JointPenalty:  # noqa: N802 - reads like a class at the call site
    return _JointPenalty("foot_skating", foot_skating)


def GroundPenetration() -> _JointPenalty:  # noqa: N802
    return _JointPenalty("penetration", lambda j, fps: ground_penetration(j))


def Jitter() -> _JointPenalty:  # noqa: N802
    return _JointPenalty("jitter", jitter)
