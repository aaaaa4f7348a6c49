"""BVH export of joint-position motions (the skeleton's hierarchy, per-frame ZXY Euler rotations).

Positions are turned into rotations by fitting, per joint, the rotation that carries the rest
offsets of its children onto the observed bone vectors (shortest arc for one child, a least-squares
Kabsch fit for several). Bone lengths are the motion's own (median over frames), so a motion made
of rigid bones, as every HumanML3D motion is, round-trips exactly. End joints get an End Site.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from nomocap.motion.skeleton import Skeleton, get_skeleton


def _children(sk: Skeleton) -> list[list[int]]:
    kids: list[list[int]] = [[] for _ in range(sk.num_joints)]
    for j, p in enumerate(sk.parents):
        if p >= 0:
            kids[p].append(j)
    return kids


def _rest_offsets(joints: np.ndarray, sk: Skeleton) -> np.ndarray:
    """Rest offsets: each bone's rest direction times its median length in the motion.

    Where a joint has several children (pelvis, upper spine) their offsets must keep the motion's
    own rigid layout, so they are frame 0's bone vectors turned by the rotation that best aligns
    them with the rest directions: a near T-pose that the fit can reproduce exactly.
    """
    offsets = np.zeros((sk.num_joints, 3))
    raw = np.asarray(sk.raw_offsets, float)
    for j, p in enumerate(sk.parents):
        if p >= 0:
            offsets[j] = raw[j] * np.median(np.linalg.norm(joints[:, j] - joints[:, p], axis=-1))
    for j, kids in enumerate(_children(sk)):
        if len(kids) > 1:
            first = joints[:1, kids] - joints[:1, j : j + 1]
            align = _fit_rotations(offsets[kids], first)[0]
            offsets[kids] = first[0] @ align  # align.T @ v, row-wise
    return offsets


def _fit_rotations(rest: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Per-frame rotation matrices ``[T, 3, 3]`` with ``R @ rest[k] ≈ actual[:, k]`` (Kabsch, no reflection)."""
    if rest.shape[0] == 1:
        a = rest[0] / np.linalg.norm(rest[0])
        b = actual[:, 0] / np.linalg.norm(actual[:, 0], axis=-1, keepdims=True)
        axis = np.cross(a, b)
        w = 1.0 + b @ a
        quat = np.concatenate([axis, w[:, None]], axis=-1)  # scipy: (x, y, z, w)
        flipped = w < 1e-9  # 180 degrees: any perpendicular axis
        if flipped.any():
            perp = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
            quat[flipped] = np.concatenate([perp, [0.0]])
        return Rotation.from_quat(quat).as_matrix()
    cov = np.einsum("tki,kj->tij", actual, rest)
    u, _, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.ones((len(cov), 3))
    fix[:, 2] = d
    return (u * fix[:, None, :]) @ vt


def joints_to_bvh_rotations(joints: np.ndarray, sk: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Rest offsets ``[J, 3]`` and local rotation matrices ``[T, J, 3, 3]`` (identity for end joints)."""
    offsets = _rest_offsets(joints, sk)
    kids = _children(sk)
    num = len(joints)
    glob = np.tile(np.eye(3), (num, sk.num_joints, 1, 1))
    local = glob.copy()
    for j in _topological(sk):
        p = sk.parents[j]
        if kids[j]:
            actual = np.stack([joints[:, c] - joints[:, j] for c in kids[j]], axis=1)
            glob[:, j] = _fit_rotations(offsets[kids[j]], actual)
        elif p >= 0:
            glob[:, j] = glob[:, p]
        local[:, j] = glob[:, j] if p < 0 else np.swapaxes(glob[:, p], -1, -2) @ glob[:, j]
    return offsets, local


def _topological(sk: Skeleton) -> list[int]:
    order, seen = [], set()
    for j in range(sk.num_joints):
        chain = []
        while j not in seen and j >= 0:
            chain.append(j)
            seen.add(j)
            j = sk.parents[j]
        order.extend(reversed(chain))
    return order


def write_bvh(joints: np.ndarray, out: str | Path, skeleton: str | Skeleton = "t2m") -> Path:
    """Write joints ``[T, J, 3]`` (the corpus's units; Y up) as a BVH file at the skeleton's fps."""
    sk = get_skeleton(skeleton)
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (sk.num_joints, 3) or not np.isfinite(joints).all():
        raise ValueError(f"BVH export expects finite joints [T, {sk.num_joints}, 3], got {list(joints.shape)}")
    offsets, local = joints_to_bvh_rotations(joints, sk)
    kids = _children(sk)
    lines = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        pad = "  " * depth
        head = "ROOT" if depth == 0 else "JOINT"
        lines.append(f"{pad}{head} {sk.joint_names[j]}")
        lines.append(pad + "{")
        off = np.zeros(3) if depth == 0 else offsets[j]
        lines.append(f"{pad}  OFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}")
        if depth == 0:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation")
        else:
            lines.append(f"{pad}  CHANNELS 3 Zrotation Xrotation Yrotation")
        for c in kids[j]:
            emit(c, depth + 1)
        if not kids[j]:
            tip = np.asarray(sk.raw_offsets[j], float) * 0.05 / sk.unit
            lines.append(f"{pad}  End Site")
            lines.append(pad + "  {")
            lines.append(f"{pad}    OFFSET {tip[0]:.6f} {tip[1]:.6f} {tip[2]:.6f}")
            lines.append(pad + "  }")
        lines.append(pad + "}")

    emit(0, 0)
    order: list[int] = []

    def visit(j: int) -> None:
        order.append(j)
        for c in kids[j]:
            visit(c)

    visit(0)
    euler = Rotation.from_matrix(local[:, order].reshape(-1, 3, 3)).as_euler("ZXY", degrees=True)
    euler = euler.reshape(len(joints), len(order), 3)
    lines += ["MOTION", f"Frames: {len(joints)}", f"Frame Time: {1.0 / sk.fps:.6f}"]
    for t in range(len(joints)):
        vals = list(joints[t, 0]) + list(euler[t].reshape(-1))
        lines.append(" ".join(f"{v:.6f}" for v in vals))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, out)
    return out
