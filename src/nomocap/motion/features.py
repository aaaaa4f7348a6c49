"""HumanML3D motion features: joints <-> the 263-d (t2m) / 251-d (KIT) representation of Guo et al. 2022.

Per frame: root angular velocity about Y, root linear velocity (x, z) in the facing frame, root height
(4); root-relative joint positions in the facing frame (ric, (J-1)*3); local 6D joint rotations
((J-1)*6); joint velocities in the facing frame (J*3); four foot contacts. ``T`` joint frames give
``T-1`` feature frames. The computation follows the reference ``process_file`` step by step, including
its facing direction for the per-frame root rotation (see ``_root_rotation`` for the one place we
deliberately differ), which adds the *left-minus-right* hip vector to
the *right-minus-left* shoulder vector (an index swap in the original code, kept here so our features
match the released data).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from nomocap.motion import rotations as R
from nomocap.motion.skeleton import Skeleton, get_skeleton

_UP = (0.0, 1.0, 0.0)
_FORWARD = (0.0, 0.0, 1.0)


def _as_joints(joints: np.ndarray, sk: Skeleton) -> torch.Tensor:
    arr = np.asarray(joints)
    if arr.ndim != 3 or arr.shape[1:] != (sk.num_joints, 3):
        raise ValueError(f"expected joints of shape [T, {sk.num_joints}, 3] for skeleton {sk.name!r}, "
                         f"got {list(arr.shape)}")
    if arr.shape[0] < 2:
        raise ValueError("need at least 2 frames of joints to compute velocities")
    if not np.isfinite(arr).all():
        raise ValueError("joints contain NaN or Inf")
    return torch.as_tensor(arr, dtype=torch.float64)


def uniform_skeleton(joints: torch.Tensor, sk: Skeleton) -> torch.Tensor:
    """Retarget to the skeleton's bone lengths: keep every bone's direction, scale the root path by leg length.

    Equivalent to the reference's inverse-then-forward kinematics, which preserves bone directions.
    """
    offsets = torch.as_tensor(sk.offsets)
    src_len = (joints[0, 1:] - joints[0, list(sk.parents[1:])]).norm(dim=-1)
    src_len = torch.cat([src_len.new_zeros(1), src_len])
    a, b = sk.leg_joints
    scale = (offsets[a].abs().max() + offsets[b].abs().max()) / (src_len[a] + src_len[b])
    out = torch.empty_like(joints)
    out[:, 0] = joints[:, 0] * scale
    for chain in sk.kinematic_chain:
        for parent, child in zip(chain[:-1], chain[1:]):
            direction = R.normalize(joints[:, child] - joints[:, parent])
            out[:, child] = out[:, parent] + direction * torch.as_tensor(sk.bone_lengths[child])
    return out


def _facing(joints: torch.Tensor, sk: Skeleton, reference_quirk: bool) -> torch.Tensor:
    r_hip, l_hip, r_sh, l_sh = sk.face_joints
    hips = joints[..., l_hip, :] - joints[..., r_hip, :] if reference_quirk else \
        joints[..., r_hip, :] - joints[..., l_hip, :]
    across = R.normalize(hips + joints[..., r_sh, :] - joints[..., l_sh, :])
    up = across.new_tensor(_UP).expand_as(across)
    return torch.linalg.cross(up, across, dim=-1)


def canonicalize(joints: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """Retarget, put on the floor, move frame 0's root to the XZ origin and face +Z: the frame that
    ``features_to_joints`` returns motions in."""
    sk = get_skeleton(skeleton)
    return _canonicalize(_as_joints(joints, sk), sk).numpy()


def _canonicalize(j: torch.Tensor, sk: Skeleton) -> torch.Tensor:
    pos = uniform_skeleton(j, sk)
    pos[..., 1] -= pos[..., 1].min()
    pos = pos - pos[0, 0] * pos.new_tensor([1.0, 0.0, 1.0])
    forward = R.normalize(_facing(pos[0], sk, reference_quirk=False))
    q0 = R.qbetween(forward, forward.new_tensor(_FORWARD))
    return R.qrot(q0, pos)


def _root_rotation(pos: torch.Tensor, sk: Skeleton) -> torch.Tensor:
    """Per-frame rotation into the (smoothed) facing frame; frame 0 is the identity, as in the reference."""
    forward = _facing(pos, sk, reference_quirk=True).numpy()
    forward = torch.as_tensor(gaussian_filter1d(forward, 20, axis=0, mode="nearest"))
    forward = R.normalize(forward)
    root = R.qbetween(forward, forward.new_tensor(_FORWARD).expand_as(forward)).clone()
    root[0] = root.new_tensor([1.0, 0.0, 0.0, 0.0])
    # Keep consecutive quaternions in one hemisphere. The reference does not, so its yaw rate
    # (an arcsin of the relative quaternion) flips sign for one frame whenever a motion turns past
    # 180 degrees from its start (every full circle); rotations themselves are unchanged.
    flips = ((root[1:] * root[:-1]).sum(-1) < 0).to(root.dtype)
    sign = torch.cat([root.new_ones(1), torch.cumprod(1 - 2 * flips, 0)])
    return root * sign[:, None]


def _local_rotations(pos: torch.Tensor, root: torch.Tensor, sk: Skeleton) -> torch.Tensor:
    """Per-joint rotations ``[T, J, 4]`` relative to the chain's parent, from bone directions."""
    quats = pos.new_zeros(pos.shape[:-1] + (4,))
    quats[:, 0] = root
    raw = torch.as_tensor(sk.raw_offsets, dtype=pos.dtype)
    for chain in sk.kinematic_chain:
        glob = root
        for parent, child in zip(chain[:-1], chain[1:]):
            u = raw[child].expand(len(pos), 3)
            v = R.normalize(pos[:, child] - pos[:, parent])
            to_bone = R.qbetween(u, v)
            quats[:, child] = R.qmul(R.qinv(glob), to_bone)
            glob = to_bone
    return quats


def joints_to_features(joints: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """Joints ``[T, J, 3]`` (Y up) to HumanML3D features ``[T-1, D]`` (float32)."""
    sk = get_skeleton(skeleton)
    pos = _canonicalize(_as_joints(joints, sk), sk)
    num = len(pos)

    disp = (pos[1:] - pos[:-1]).square().sum(-1)  # [T-1, J]
    feet_l = (disp[:, list(sk.left_foot)] < sk.feet_threshold).to(pos.dtype)
    feet_r = (disp[:, list(sk.right_foot)] < sk.feet_threshold).to(pos.dtype)

    root = _root_rotation(pos, sk)
    cont6d = R.quat_to_cont6d(_local_rotations(pos, root, sk))
    root_vel = R.qrot(root[1:], pos[1:, 0] - pos[:-1, 0])
    root_ang_vel = torch.asin(R.qmul(root[1:], R.qinv(root[:-1]))[:, 2:3].clamp(-1, 1))

    ric = pos.clone()
    ric[..., [0, 2]] -= pos[:, :1, [0, 2]]
    ric = R.qrot(root[:, None], ric)
    local_vel = R.qrot(root[:-1, None], pos[1:] - pos[:-1])

    feats = torch.cat(
        [
            root_ang_vel, root_vel[:, [0, 2]], ric[:-1, 0, 1:2],
            ric[:-1, 1:].reshape(num - 1, -1),
            cont6d[:-1, 1:].reshape(num - 1, -1),
            local_vel.reshape(num - 1, -1),
            feet_l, feet_r,
        ],
        dim=-1,
    )
    return feats.numpy().astype(np.float32)


def _root_path(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrate root yaw (as a quaternion) and root position from the first four feature channels."""
    yaw = torch.zeros_like(features[..., 0])
    yaw[..., 1:] = features[..., :-1, 0]
    quat = R.quat_about_y(torch.cumsum(yaw, dim=-1))
    step = torch.zeros(features.shape[:-1] + (3,), dtype=features.dtype, device=features.device)
    step[..., 1:, 0] = features[..., :-1, 1]
    step[..., 1:, 2] = features[..., :-1, 2]
    root = torch.cumsum(R.qrot(R.qinv(quat), step), dim=-2)
    root = torch.cat([root[..., :1], features[..., 3:4], root[..., 2:]], dim=-1)
    return quat, root


def features_to_joints_torch(features: torch.Tensor, num_joints: int = 22) -> torch.Tensor:
    """Batched, differentiable recovery of joints ``[..., T, J, 3]`` from root-relative positions."""
    quat, root = _root_path(features)
    ric = features[..., 4 : 4 + (num_joints - 1) * 3].unflatten(-1, (num_joints - 1, 3))
    ric = R.qrot(R.qinv(quat)[..., None, :], ric)
    ric = ric + (root * root.new_tensor([1.0, 0.0, 1.0]))[..., None, :]
    return torch.cat([root[..., None, :], ric], dim=-2)


def _check_features(features: np.ndarray, sk: Skeleton) -> torch.Tensor:
    arr = np.asarray(features)
    if arr.ndim < 2 or arr.shape[-1] != sk.feature_dim:
        raise ValueError(f"expected features [..., T, {sk.feature_dim}] for skeleton {sk.name!r}, "
                         f"got {list(arr.shape)}")
    return torch.as_tensor(arr, dtype=torch.float64)


def features_to_joints(features: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """Features ``[..., T, D]`` to joints ``[..., T, J, 3]`` (HumanML3D's ``recover_from_ric``)."""
    sk = get_skeleton(skeleton)
    out = features_to_joints_torch(_check_features(features, sk), sk.num_joints)
    return out.numpy().astype(np.float32)


def features_to_joints_rot(features: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """Recovery by forward kinematics of the 6D rotations on the target skeleton (``recover_from_rot``)."""
    sk = get_skeleton(skeleton)
    feats = _check_features(features, sk)
    quat, root = _root_path(feats)
    rots = feats[..., sk.feature_slices["rot"]].unflatten(-1, (sk.num_joints - 1, 6))
    rots = torch.cat([R.quat_to_cont6d(quat)[..., None, :], rots], dim=-2)
    return forward_kinematics(R.cont6d_to_matrix(rots), root, sk).numpy().astype(np.float32)


def forward_kinematics(local: torch.Tensor, root: torch.Tensor, sk: Skeleton,
                       branches_from_root: bool = True) -> torch.Tensor:
    """Joints from per-joint rotation matrices ``[..., J, 3, 3]`` and root positions ``[..., 3]``.

    Joint ``chain[i]``'s rotation turns the bone ``chain[i-1] -> chain[i]``. With
    ``branches_from_root`` (HumanML3D's convention, used by its rotation features) a chain that
    branches off mid-body (the arms) starts from the root rotation; without it, from the global
    rotation of its first joint, as in a true hierarchy (a rigid body).
    """
    offsets = torch.as_tensor(sk.offsets, dtype=local.dtype, device=local.device)
    joints: list[torch.Tensor | None] = [None] * sk.num_joints
    glob_of: dict[int, torch.Tensor] = {0: local[..., 0, :, :]}
    joints[0] = root
    for chain in sk.kinematic_chain:
        glob = local[..., 0, :, :] if branches_from_root else glob_of[chain[0]]
        for parent, child in zip(chain[:-1], chain[1:]):
            glob = glob @ local[..., child, :, :]
            glob_of[child] = glob
            joints[child] = joints[parent] + (glob @ offsets[child].unsqueeze(-1)).squeeze(-1)
    return torch.stack(joints, dim=-2)  # type: ignore[arg-type]


def mirror_joints(joints: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """Left/right mirror image (x negated, left and right joints swapped), as HumanML3D's ``M`` files."""
    sk = get_skeleton(skeleton)
    out = np.asarray(joints)[..., sk.mirror_permutation, :].copy()
    out[..., 0] *= -1
    return out


def mirror_features(features: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """The features of the mirrored motion, computed directly in feature space (exact involution)."""
    sk = get_skeleton(skeleton)
    f = np.array(features, copy=True)
    sl, j, perm = sk.feature_slices, sk.num_joints, sk.mirror_permutation
    f[..., 0] *= -1  # yaw rate
    f[..., 1] *= -1  # sideways root velocity
    ric = f[..., sl["ric"]].reshape(f.shape[:-1] + (j - 1, 3))[..., perm[1:] - 1, :]
    ric[..., 0] *= -1
    rot = f[..., sl["rot"]].reshape(f.shape[:-1] + (j - 1, 6))[..., perm[1:] - 1, :]
    rot *= np.array([1, -1, -1, -1, 1, 1], dtype=f.dtype)  # conjugation by the x-reflection
    vel = f[..., sl["vel"]].reshape(f.shape[:-1] + (j, 3))[..., perm, :]
    vel[..., 0] *= -1
    feet = f[..., sl["feet"]][..., [2, 3, 0, 1]]
    f[..., sl["ric"]] = ric.reshape(f.shape[:-1] + (-1,))
    f[..., sl["rot"]] = rot.reshape(f.shape[:-1] + (-1,))
    f[..., sl["vel"]] = vel.reshape(f.shape[:-1] + (-1,))
    f[..., sl["feet"]] = feet
    return f


class Normalizer:
    """Per-dimension standardisation with the corpus's ``Mean.npy`` / ``Std.npy``."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, eps: float = 1e-8):
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        if self.mean.shape != self.std.shape or self.mean.ndim != 1:
            raise ValueError(f"mean and std must be 1-d of equal width, got {self.mean.shape}, {self.std.shape}")
        if not (np.isfinite(self.mean).all() and np.isfinite(self.std).all()):
            raise ValueError("mean/std contain NaN or Inf")
        self.eps = eps

    @classmethod
    def fit(cls, features: list[np.ndarray] | np.ndarray, min_std: float = 1e-2) -> Normalizer:
        stacked = np.concatenate(list(features), axis=0) if not isinstance(features, np.ndarray) else features
        std = stacked.std(axis=0)
        return cls(stacked.mean(axis=0), np.maximum(std, min_std))

    def normalize(self, x):
        if isinstance(x, torch.Tensor):
            return (x - x.new_tensor(self.mean)) / (x.new_tensor(self.std) + self.eps)
        return (x - self.mean) / (self.std + self.eps)

    def denormalize(self, x):
        if isinstance(x, torch.Tensor):
            return x * (x.new_tensor(self.std) + self.eps) + x.new_tensor(self.mean)
        return x * (self.std + self.eps) + self.mean
