"""Physical plausibility from joints (metres, Y up, floor at 0): foot skating, ground penetration, jitter.

Each reward is a penalty: the score is minus the measured quantity, so higher is better. The measures are
batched torch functions of padded joints ``[B, T, J, 3]`` and a frame mask ``[B, T]``, so that the same code
scores sampled motions (DDPO, RAFT) and is differentiated through the sampler (DRaFT).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from nomocap.motion.features import features_to_joints_torch
from nomocap.motion.skeleton import Skeleton, get_skeleton
from nomocap.rewards import MotionBatch

ANKLE_CONTACT, TOE_CONTACT = 0.10, 0.05  # metres: an ankle joint sits higher above the floor than a toe joint

Measure = Callable[[torch.Tensor, torch.Tensor, Skeleton], torch.Tensor]


def foot_joints(skeleton: Skeleton) -> tuple[list[int], list[float]]:
    """The skeleton's ankle and toe joints and the height under which each touches the floor."""
    joints = [*skeleton.left_foot, *skeleton.right_foot]  # (ankle, toe) per foot
    return joints, [ANKLE_CONTACT, TOE_CONTACT] * 2


def _masked_mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per motion: the weighted sum over every axis but the first, over the summed weight (0 when it is 0)."""
    dims = tuple(range(1, values.dim()))
    weight = weight.expand_as(values)
    return (values * weight).sum(dims) / weight.sum(dims).clamp_min(1)


def foot_skating_batch(joints: torch.Tensor, mask: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """Mean horizontal speed (m/s) of the foot joints over the frame pairs in which they touch the floor."""
    index, height = foot_joints(skeleton)
    feet = joints[:, :, index]
    low = feet[..., 1] < feet.new_tensor(height)
    contact = low[:, 1:] & low[:, :-1] & (mask[:, 1:] & mask[:, :-1])[..., None]
    speed = torch.linalg.vector_norm(feet[:, 1:, :, [0, 2]] - feet[:, :-1, :, [0, 2]], dim=-1) * skeleton.fps
    return _masked_mean(speed, contact.to(speed))


def ground_penetration_batch(joints: torch.Tensor, mask: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """Mean depth (m) below the floor of the lowest foot joint, over the valid frames."""
    lowest = joints[:, :, foot_joints(skeleton)[0], 1].amin(-1)
    return _masked_mean(torch.relu(-lowest), mask.to(lowest))


def jitter_batch(joints: torch.Tensor, mask: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """Mean magnitude of joint jerk (third time derivative, m/s^3); 0 for a motion of fewer than 4 frames."""
    jerk = torch.linalg.vector_norm(torch.diff(joints, 3, dim=1), dim=-1)
    valid = mask[:, 3:] & mask[:, 2:-1] & mask[:, 1:-2] & mask[:, :-3]
    return _masked_mean(jerk, valid[..., None].to(jerk)) * skeleton.fps**3


def _padded(joints: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Motions of different lengths as one zero-padded float64 batch ``[B, T, J, 3]`` and its frame mask ``[B, T]``."""
    lengths = torch.tensor([len(j) for j in joints])
    batch = torch.zeros(len(joints), int(lengths.max()), *np.shape(joints[0])[1:], dtype=torch.float64)
    for i, j in enumerate(joints):
        batch[i, : len(j)] = torch.as_tensor(np.asarray(j, np.float64))
    return batch, torch.arange(batch.shape[1])[None] < lengths[:, None]


def _one(measure: Measure, joints: np.ndarray, skeleton: str | Skeleton) -> float:
    return float(measure(*_padded([joints]), get_skeleton(skeleton))[0])


def foot_skating(joints: np.ndarray, skeleton: str | Skeleton = "t2m") -> float:
    """Foot skating (m/s) of one motion's joints ``[T, J, 3]`` in metres."""
    return _one(foot_skating_batch, joints, skeleton)


def ground_penetration(joints: np.ndarray, skeleton: str | Skeleton = "t2m") -> float:
    """Ground penetration (m) of one motion's joints ``[T, J, 3]`` in metres."""
    return _one(ground_penetration_batch, joints, skeleton)


def jitter(joints: np.ndarray, skeleton: str | Skeleton = "t2m") -> float:
    """Jitter (m/s^3) of one motion's joints ``[T, J, 3]`` in metres."""
    return _one(jitter_batch, joints, skeleton)


PHYSICS = ("foot_skating", "penetration", "jitter")  # the evaluation's columns, in this order


def physics_means(joints: list[np.ndarray], skeleton: str | Skeleton) -> dict[str, float]:
    """Each measure's mean over motions (joints ``[T, J, 3]`` in the skeleton's units): an evaluation's columns."""
    sk = get_skeleton(skeleton)
    batch, mask = _padded([j * sk.unit for j in joints])
    measures = (foot_skating_batch, ground_penetration_batch, jitter_batch)
    return {name: float(measure(batch, mask, sk).mean()) for name, measure in zip(PHYSICS, measures)}


class JointPenalty:
    """``-measure(joints)``; differentiable as a function of HumanML3D features on ``skeleton`` (what DRaFT climbs)."""

    def __init__(self, name: str, measure: Measure, skeleton: str | Skeleton = "t2m"):
        self.name, self.measure, self.skeleton = name, measure, get_skeleton(skeleton)

    def __call__(self, motions: MotionBatch, prompts: list[str]) -> tuple[torch.Tensor, dict[str, float]]:
        sk = motions.representation.skeleton
        scores = torch.full((len(motions),), float("nan"))
        valid = [i for i, j in enumerate(motions.joints) if j is not None]
        if valid:
            scores[valid] = -self.measure(*_padded([motions.joints[i] * sk.unit for i in valid]), sk).float()
        return scores, {}

    def differentiable(self, features: torch.Tensor, mask: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        """The same scores from de-normalised HumanML3D features ``[B, T, D]`` (``mask [B, T]``: valid frames)."""
        sk = self.skeleton
        if features.shape[-1] != sk.feature_dim:
            raise ValueError(f"{self.name}: features of dimension {features.shape[-1]} are not HumanML3D features "
                             f"of the {sk.name} skeleton ({sk.feature_dim}); pass the base model's skeleton")
        joints = features_to_joints_torch(features, sk.num_joints) * sk.unit
        return -self.measure(joints, mask.to(features.device), sk)


def FootSkating(skeleton: str | Skeleton = "t2m") -> JointPenalty:  # noqa: N802 - reads like a class at the call site
    return JointPenalty("foot_skating", foot_skating_batch, skeleton)


def GroundPenetration(skeleton: str | Skeleton = "t2m") -> JointPenalty:  # noqa: N802
    return JointPenalty("penetration", ground_penetration_batch, skeleton)


def Jitter(skeleton: str | Skeleton = "t2m") -> JointPenalty:  # noqa: N802
    return JointPenalty("jitter", jitter_batch, skeleton)
