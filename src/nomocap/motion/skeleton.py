"""Kinematic trees of the HumanML3D (``t2m``, 22 joints, SMPL order) and KIT-ML (``kit``, 21 joints) skeletons.

Raw offsets are the unit rest directions of each bone as in HumanML3D's ``paramUtil.py``. Target bone
lengths are what every body is retargeted to before features are computed (``uniform_skeleton``):
for ``t2m`` they are measured from HumanML3D example 000021 (``skeleton_example_h3d.npy``, the file
the reference pipeline uses); for ``kit`` they are typical KIT-ML lengths in millimetres (KIT-ML's
joints are stored in mm), an approximation documented in the README.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    name: str
    joint_names: tuple[str, ...]
    raw_offsets: tuple[tuple[int, int, int], ...]
    kinematic_chain: tuple[tuple[int, ...], ...]
    bone_lengths: tuple[float, ...]
    face_joints: tuple[int, int, int, int]  # r_hip, l_hip, r_shoulder, l_shoulder
    left_foot: tuple[int, int]  # ankle, toe
    right_foot: tuple[int, int]
    leg_joints: tuple[int, int]  # the two bones whose length sets the retargeting scale
    fps: float
    feet_threshold: float  # squared per-frame displacement under which a foot is in contact
    unit: float  # metres per unit of the joint coordinates (1 for t2m, 0.001 for KIT's mm)
    min_frames: int
    max_frames: int = 196

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def feature_dim(self) -> int:
        j = self.num_joints
        return 4 + (j - 1) * 3 + (j - 1) * 6 + j * 3 + 4

    @cached_property
    def parents(self) -> tuple[int, ...]:
        parents = [-1] * self.num_joints
        for chain in self.kinematic_chain:
            for parent, child in zip(chain[:-1], chain[1:]):
                parents[child] = parent
        return tuple(parents)

    @cached_property
    def offsets(self) -> np.ndarray:
        """Target offsets ``[J, 3]``: rest direction times bone length."""
        return np.asarray(self.raw_offsets, np.float64) * np.asarray(self.bone_lengths)[:, None]

    @cached_property
    def mirror_permutation(self) -> np.ndarray:
        """Index map that swaps every left joint with its right twin (by name)."""
        names = list(self.joint_names)
        perm = []
        for n in names:
            twin = n.replace("left", "#").replace("right", "left").replace("#", "right")
            perm.append(names.index(twin))
        return np.asarray(perm)

    @cached_property
    def feature_slices(self) -> dict[str, slice]:
        """Where each part of the HumanML3D feature vector lives."""
        j = self.num_joints
        bounds = {"root": 4, "ric": (j - 1) * 3, "rot": (j - 1) * 6, "vel": j * 3, "feet": 4}
        out, start = {}, 0
        for key, width in bounds.items():
            out[key] = slice(start, start + width)
            start += width
        return out


T2M = Skeleton(
    name="t2m",
    joint_names=(
        "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
        "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
        "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist",
    ),
    raw_offsets=(
        (0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, -1, 0), (0, 1, 0), (0, -1, 0),
        (0, -1, 0), (0, 1, 0), (0, 0, 1), (0, 0, 1), (0, 1, 0), (1, 0, 0), (-1, 0, 0), (0, 0, 1),
        (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0),
    ),
    kinematic_chain=((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21),
                     (9, 13, 16, 18, 20)),
    bone_lengths=(
        0.0, 0.1030739680, 0.1098833679, 0.1315682427, 0.3936232010, 0.3901882264, 0.1431902147,
        0.4324330813, 0.4256433446, 0.0573647351, 0.1433818187, 0.1494190728, 0.2193600529,
        0.1374867676, 0.1433828328, 0.1030392195, 0.1316140458, 0.1229843780, 0.2568400048,
        0.2630917442, 0.2660117216, 0.2698764032,
    ),
    face_joints=(2, 1, 17, 16),
    left_foot=(7, 10),
    right_foot=(8, 11),
    leg_joints=(5, 8),
    fps=20.0,
    feet_threshold=0.002,
    unit=1.0,
    min_frames=40,
)

KIT = Skeleton(
    name="kit",
    joint_names=(
        "root", "pelvis", "torso", "lower_neck", "head", "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle",
        "right_ball", "right_toe", "left_hip", "left_knee", "left_ankle", "left_ball", "left_toe",
    ),
    raw_offsets=(
        (0, 0, 0), (0, 1, 0), (0, 1, 0), (0, 1, 0), (0, 1, 0), (1, 0, 0), (0, -1, 0), (0, -1, 0),
        (-1, 0, 0), (0, -1, 0), (0, -1, 0), (1, 0, 0), (0, -1, 0), (0, -1, 0), (0, 0, 1), (0, 0, 1),
        (-1, 0, 0), (0, -1, 0), (0, -1, 0), (0, 0, 1), (0, 0, 1),
    ),
    kinematic_chain=((0, 11, 12, 13, 14, 15), (0, 16, 17, 18, 19, 20), (0, 1, 2, 3, 4), (3, 5, 6, 7),
                     (3, 8, 9, 10)),
    bone_lengths=(
        0.0, 100.0, 140.0, 230.0, 130.0, 190.0, 280.0, 250.0, 190.0, 280.0, 250.0, 95.0, 430.0,
        420.0, 70.0, 90.0, 95.0, 430.0, 420.0, 70.0, 90.0,
    ),
    face_joints=(11, 16, 5, 8),
    left_foot=(18, 20),
    right_foot=(13, 15),
    leg_joints=(17, 18),
    fps=12.5,
    feet_threshold=0.002 * 1000.0**2,  # the t2m threshold, in mm^2
    unit=0.001,
    min_frames=24,
)

SKELETONS = {"t2m": T2M, "kit": KIT}


def get_skeleton(skeleton: str | Skeleton) -> Skeleton:
    if isinstance(skeleton, Skeleton):
        return skeleton
    try:
        return SKELETONS[skeleton]
    except KeyError:
        raise ValueError(f"unknown skeleton {skeleton!r}; choose one of {sorted(SKELETONS)}") from None


def skeleton_for_feature_dim(dim: int) -> Skeleton:
    for sk in SKELETONS.values():
        if sk.feature_dim == dim:
            return sk
    raise ValueError(
        f"feature width {dim} matches no known skeleton (t2m: {T2M.feature_dim}, kit: {KIT.feature_dim})"
    )
