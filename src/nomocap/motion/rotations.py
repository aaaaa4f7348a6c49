"""Quaternion and 6D-rotation helpers (torch, batched, differentiable).

Quaternions are ``(w, x, y, z)``; a rotation matrix's 6D form is its first two columns, as in
HumanML3D's ``cont6d`` (Zhou et al. 2019). One implementation serves numpy callers too: they
convert at the boundary (see ``features.py``).
"""

from __future__ import annotations

import torch

_EPS = 1e-12


def normalize(v: torch.Tensor, eps: float = _EPS) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(eps)


def qmul(q: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``q * r`` (apply r first, then q)."""
    w1, x1, y1, z1 = q.unbind(-1)
    w2, x2, y2, z2 = r.unbind(-1)
    return torch.stack(
        (
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ),
        dim=-1,
    )


def qinv(q: torch.Tensor) -> torch.Tensor:
    """Inverse of a unit quaternion (its conjugate)."""
    return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])


def qrot(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors ``v [..., 3]`` by unit quaternions ``q [..., 4]`` (broadcasting)."""
    q, v = torch.broadcast_tensors(q, torch.cat([torch.zeros_like(v[..., :1]), v], -1))
    qvec, v = q[..., 1:], v[..., 1:]
    uv = torch.linalg.cross(qvec, v, dim=-1)
    uuv = torch.linalg.cross(qvec, uv, dim=-1)
    return v + 2.0 * (q[..., :1] * uv + uuv)


def qbetween(v0: torch.Tensor, v1: torch.Tensor) -> torch.Tensor:
    """The shortest-arc unit quaternion taking direction ``v0`` to direction ``v1``."""
    axis = torch.linalg.cross(v0, v1, dim=-1)
    w = (v0.square().sum(-1, keepdim=True) * v1.square().sum(-1, keepdim=True)).sqrt()
    w = w + (v0 * v1).sum(-1, keepdim=True)
    return normalize(torch.cat([w, axis], dim=-1))


def quat_about_y(angle: torch.Tensor) -> torch.Tensor:
    """Quaternion ``(cos a, 0, sin a, 0)``: a rotation by ``2a`` about +Y (HumanML3D's root convention)."""
    zero = torch.zeros_like(angle)
    return torch.stack((angle.cos(), zero, angle.sin(), zero), dim=-1)


def quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    w, x, y, z = normalize(q).unbind(-1)
    return torch.stack(
        (
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ),
        dim=-1,
    ).reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(m: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[..., 3, 3]`` to unit quaternions with ``w >= 0`` (numerically safe branch)."""
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Four candidate magnitudes; the largest gives the best-conditioned formula.
    cand = torch.stack(
        (1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22), dim=-1
    )
    best = cand.argmax(-1, keepdim=True)
    s = cand.clamp_min(_EPS).sqrt() * 2  # 4 * |component|
    w = torch.stack((s[..., 0] / 4, (m[..., 2, 1] - m[..., 1, 2]) / s[..., 1],
                     (m[..., 0, 2] - m[..., 2, 0]) / s[..., 2], (m[..., 1, 0] - m[..., 0, 1]) / s[..., 3]), -1)
    x = torch.stack(((m[..., 2, 1] - m[..., 1, 2]) / s[..., 0], s[..., 1] / 4,
                     (m[..., 0, 1] + m[..., 1, 0]) / s[..., 2], (m[..., 0, 2] + m[..., 2, 0]) / s[..., 3]), -1)
    y = torch.stack(((m[..., 0, 2] - m[..., 2, 0]) / s[..., 0], (m[..., 0, 1] + m[..., 1, 0]) / s[..., 1],
                     s[..., 2] / 4, (m[..., 1, 2] + m[..., 2, 1]) / s[..., 3]), -1)
    z = torch.stack(((m[..., 1, 0] - m[..., 0, 1]) / s[..., 0], (m[..., 0, 2] + m[..., 2, 0]) / s[..., 1],
                     (m[..., 1, 2] + m[..., 2, 1]) / s[..., 2], s[..., 3] / 4), -1)
    q = torch.stack([c.gather(-1, best).squeeze(-1) for c in (w, x, y, z)], dim=-1)
    return normalize(q * torch.where(q[..., :1] < 0, -1.0, 1.0))


def matrix_to_cont6d(m: torch.Tensor) -> torch.Tensor:
    return torch.cat([m[..., :, 0], m[..., :, 1]], dim=-1)


def cont6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """Gram-Schmidt of the two stored columns; the matrix's columns are ``(x, y, z)``."""
    x = normalize(d6[..., 0:3])
    z = normalize(torch.linalg.cross(x, d6[..., 3:6], dim=-1))
    y = torch.linalg.cross(z, x, dim=-1)
    return torch.stack((x, y, z), dim=-1)


def quat_to_cont6d(q: torch.Tensor) -> torch.Tensor:
    return matrix_to_cont6d(quat_to_matrix(q))

