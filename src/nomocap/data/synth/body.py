"""A posable t2m body: joint-angle tracks -> joint positions, with feet planted on the floor.

Angles are Euler triples ``(rx, ry, rz)`` per joint, applied as ``Ry @ Rz @ Rx`` in the parent's
frame; the rest pose is HumanML3D example 000021 standing upright, facing +Z, its left side on +X.
A joint's rotation turns its child bones (SMPL convention). Sign conventions for the left side
(the right side mirrors ``ry`` and ``rz``): hip/shoulder flexion forward ``rx < 0``, knee flexion
``rx > 0``, abduction ``rz > 0``; spine forward lean ``rx > 0``, lean to the left ``rz < 0``.

Horizontal travel is never scripted: each frame, the root moves so that the lower foot keeps its
place on the floor (and keeps its velocity in flight), so gaits walk, side-step and turn by
themselves without foot sliding. The root height keeps the lowest contact point on the floor.
"""

from __future__ import annotations

import numpy as np

from nomocap.motion.features import canonicalize
from nomocap.motion.skeleton import T2M

# HumanML3D example 000021, frame 0 (first 22 joints of skeleton_example_h3d.npy, TMR repository, MIT).
_EXAMPLE = np.array([
    [-0.03278, 0.98459, 0.82203], [-0.05078, 0.89981, 0.76624], [-0.02962, 0.89325, 0.88305],
    [-0.08274, 1.10629, 0.82365], [-0.04644, 0.50865, 0.72249], [-0.05053, 0.50602, 0.92619],
    [-0.05622, 1.24677, 0.81555], [-0.12119, 0.08447, 0.76097], [-0.10521, 0.08556, 0.88886],
    [-0.05220, 1.30398, 0.81701], [-0.00020, 0.02870, 0.70798], [0.02914, 0.02720, 0.91839],
    [-0.06976, 1.52257, 0.82243], [-0.07017, 1.41780, 0.74201], [-0.05898, 1.42348, 0.89595],
    [-0.00160, 1.59136, 0.78723], [-0.10371, 1.40160, 0.61578], [-0.05560, 1.42146, 1.01887],
    [-0.13466, 1.14674, 0.60824], [-0.09778, 1.16465, 1.05739], [-0.05406, 0.89486, 0.57958],
    [-0.00918, 0.91475, 1.10772],
])


def _symmetric_rest() -> np.ndarray:
    rest = canonicalize(np.stack([_EXAMPLE, _EXAMPLE]))[0].astype(np.float64)
    # Make left and right exact mirror images, so that mirrored motions are motions of the same body.
    mirrored = rest[T2M.mirror_permutation] * np.array([-1.0, 1.0, 1.0])
    rest = (rest + mirrored) / 2
    rest[:, 0] -= rest[0, 0]
    return rest


REST = _symmetric_rest()
PARENTS = np.asarray(T2M.parents)
OFFSETS = REST - np.where(PARENTS[:, None] >= 0, REST[np.maximum(PARENTS, 0)], 0.0)
OFFSETS[0] = 0.0
PELVIS_HEIGHT = float(REST[0, 1])
LEFT_ANKLE, RIGHT_ANKLE, LEFT_TOE, RIGHT_TOE, LEFT_KNEE, RIGHT_KNEE = 7, 8, 10, 11, 4, 5
# Height above the floor of each contact joint when it touches it (ankle and toe joints sit above
# the sole; a kneecap is about 5 cm thick).
CONTACTS = np.array([LEFT_ANKLE, RIGHT_ANKLE, LEFT_TOE, RIGHT_TOE, LEFT_KNEE, RIGHT_KNEE])
CLEARANCE = np.array([REST[7, 1], REST[8, 1], REST[10, 1], REST[11, 1], 0.05, 0.05])
FEET = ((LEFT_ANKLE, LEFT_TOE), (RIGHT_ANKLE, RIGHT_TOE))


def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """``[..., 3]`` radians ``(rx, ry, rz)`` to ``Ry @ Rz @ Rx`` matrices ``[..., 3, 3]``."""
    cx, cy, cz = np.cos(angles[..., 0]), np.cos(angles[..., 1]), np.cos(angles[..., 2])
    sx, sy, sz = np.sin(angles[..., 0]), np.sin(angles[..., 1]), np.sin(angles[..., 2])
    one, zero = np.ones_like(cx), np.zeros_like(cx)
    rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).reshape(angles.shape[:-1] + (3, 3))
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(angles.shape[:-1] + (3, 3))
    rz = np.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).reshape(angles.shape[:-1] + (3, 3))
    return ry @ rz @ rx


def pose(angles: np.ndarray) -> np.ndarray:
    """Joint positions ``[T, 22, 3]`` in the body frame (pelvis at the origin, facing +Z)."""
    local = euler_to_matrix(angles)
    glob = np.empty_like(local)
    pos = np.zeros(angles.shape[:2] + (3,))
    glob[:, 0] = local[:, 0]
    for j in range(1, len(PARENTS)):
        p = PARENTS[j]
        pos[:, j] = pos[:, p] + glob[:, p] @ OFFSETS[j]
        glob[:, j] = glob[:, p] @ local[:, j]
    return pos


def _yaw_matrix(yaw: np.ndarray) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    z = np.zeros_like(c)
    return np.stack([c, z, s, z, z + 1, z, -s, z, c], -1).reshape(yaw.shape + (3, 3))


def ground(body: np.ndarray, heading: np.ndarray, lift: np.ndarray, drift: np.ndarray | None = None,
           pin: np.ndarray | None = None) -> np.ndarray:
    """Place body-frame poses in the world.

    ``heading`` [T] is the yaw (radians, positive turns left, towards +X); ``lift`` [T] raises the
    whole body above its lowest contact (flight in jumps). While a foot is on the ground the root
    moves so that the lower foot stays put; in flight the root keeps its last horizontal velocity,
    plus ``drift`` [T, 2] (body-frame x/z velocity, metres per frame) if given. ``pin`` [T] names
    the planted foot per frame (0 left, 1 right, -1: whichever is lower), for gaits whose stance foot
    is known from their phase.
    """
    num = len(body)
    world = np.einsum("tij,tkj->tki", _yaw_matrix(heading), body)
    heights = world[:, CONTACTS, 1] - CLEARANCE
    world[:, :, 1] -= heights.min(axis=1, keepdims=True)
    world[:, :, 1] += lift[:, None]
    root = np.zeros((num, 2))
    velocity = np.zeros(2)
    foot_height = np.stack([world[:, list(f), 1].min(axis=1) for f in FEET], axis=1)  # [T, 2]
    for t in range(1, num):
        if lift[t] > 1e-3 or lift[t - 1] > 1e-3:
            step = velocity.copy()
            if drift is not None:
                c, s = np.cos(heading[t]), np.sin(heading[t])
                step = step + np.array([c * drift[t, 0] + s * drift[t, 1], -s * drift[t, 0] + c * drift[t, 1]])
        else:
            which = int(pin[t]) if pin is not None and pin[t] >= 0 else int(foot_height[t].argmin())
            foot = FEET[which][0]
            step = world[t - 1, foot, [0, 2]] - world[t, foot, [0, 2]]
            velocity = step
        root[t] = root[t - 1] + step
    world[:, :, 0] += root[:, None, 0]
    world[:, :, 2] += root[:, None, 1]
    return world
