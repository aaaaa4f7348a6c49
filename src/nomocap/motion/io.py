"""Load a motion file as joints, whatever form it is in (joints, raw features, normalised features)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nomocap.motion.features import Normalizer, features_to_joints
from nomocap.motion.skeleton import SKELETONS, Skeleton, get_skeleton, skeleton_for_feature_dim


def load_joints(path: str | Path, skeleton: str | Skeleton | None = None,
                normalizer: Normalizer | None = None) -> tuple[np.ndarray, Skeleton]:
    """Joints ``[T, J, 3]`` from a ``.npy`` of joints ``[T, J, 3]`` or features ``[T, D]``.

    Never unpickles. Features are de-normalised first when a ``normalizer`` is given.
    """
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"not a readable .npy array ({err})") from None
    if not np.isfinite(arr).all():
        raise ValueError("contains NaN/Inf")
    if arr.ndim == 3:
        sk = get_skeleton(skeleton) if skeleton else _skeleton_for_joints(arr.shape[1])
        if arr.shape[1:] != (sk.num_joints, 3):
            raise ValueError(f"joints of shape {list(arr.shape)} do not fit skeleton {sk.name!r}")
        return arr.astype(np.float32), sk
    if arr.ndim == 2:
        sk = get_skeleton(skeleton) if skeleton else skeleton_for_feature_dim(arr.shape[1])
        feats = normalizer.denormalize(arr) if normalizer is not None else arr
        return features_to_joints(feats, sk), sk
    raise ValueError(f"expected joints [T, J, 3] or features [T, D], got shape {list(arr.shape)}")


def _skeleton_for_joints(num_joints: int) -> Skeleton:
    for sk in SKELETONS.values():
        if sk.num_joints == num_joints:
            return sk
    raise ValueError(f"{num_joints} joints match no known skeleton (t2m: 22, kit: 21)")
