"""Motion representations a denoiser can work in, with converters from features and to joints.

- ``guo``: the HumanML3D features themselves (263-d t2m / 251-d KIT).
- ``rot``: root trajectory (yaw rate, xz velocity in the facing frame, height) plus one 6D rotation per
  non-root joint on the SMPL kinematic tree (130-d t2m), the rotation-based form of the paper's second
  architecture (MDM-SMPL). Joints come back by forward kinematics on the target skeleton, so every
  generated body has exact bone lengths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nomocap.motion.features import Normalizer, features_to_joints, features_to_joints_rot, joints_to_features
from nomocap.motion.skeleton import Skeleton, get_skeleton

REPRESENTATIONS = ("guo", "rot")


@dataclass(frozen=True)
class Representation:
    name: str
    skeleton: Skeleton

    @property
    def columns(self) -> np.ndarray:
        """Which feature columns the representation keeps."""
        sl = self.skeleton.feature_slices
        if self.name == "guo":
            return np.arange(self.skeleton.feature_dim)
        root, rot = sl["root"], sl["rot"]
        return np.concatenate([np.arange(root.start, root.stop), np.arange(rot.start, rot.stop)])

    @property
    def dim(self) -> int:
        return len(self.columns)

    def from_features(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features)[..., self.columns]

    def from_joints(self, joints: np.ndarray) -> np.ndarray:
        return self.from_features(joints_to_features(joints, self.skeleton))

    def normalizer(self, features_normalizer: Normalizer) -> Normalizer:
        return Normalizer(features_normalizer.mean[self.columns], features_normalizer.std[self.columns])

    def to_joints(self, values: np.ndarray) -> np.ndarray:
        if self.name == "guo":
            return features_to_joints(values, self.skeleton)
        full = np.zeros(values.shape[:-1] + (self.skeleton.feature_dim,), dtype=np.float64)
        full[..., self.columns] = values
        return features_to_joints_rot(full, self.skeleton)


def get_representation(name: str, skeleton: str | Skeleton = "t2m") -> Representation:
    if name not in REPRESENTATIONS:
        raise ValueError(f"unknown representation {name!r}: choose one of {', '.join(REPRESENTATIONS)}")
    return Representation(name, get_skeleton(skeleton))
