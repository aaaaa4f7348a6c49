"""The standard text-to-motion metrics (Guo et al. 2022), as pure functions of embeddings.

R-precision and MultiModal distance use Euclidean distances between text and motion embeddings of
the evaluator; FID is the Fréchet distance between Gaussian fits of real and generated motion
embeddings; Diversity and MultiModality are mean distances between random pairs.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg


def gaussian_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of rows ``[N, D]``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"need at least 2 rows of [N, D] to fit a Gaussian, got {list(x.shape)}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray, eps: float = 1e-6) -> float:
    """``|mu1 - mu2|^2 + tr(C1 + C2 - 2 sqrt(C1 C2))`` with the reference's safeguards: if the product's
    square root is singular, offset both covariances by ``eps``; a non-negligible imaginary part is an error."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    cov1, cov2 = np.atleast_2d(cov1).astype(np.float64), np.atleast_2d(cov2).astype(np.float64)
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape:
        raise ValueError(f"shape mismatch: means {mu1.shape} vs {mu2.shape}, covariances {cov1.shape} vs {cov2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covmean, _ = linalg.sqrtm(cov1.dot(cov2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(cov1.shape[0]) * eps
        covmean = linalg.sqrtm((cov1 + offset).dot(cov2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag))} in the covariance square root")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(covmean))


def euclidean_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise distances ``[N, M]`` between rows of ``a [N, D]`` and ``b [M, D]``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    sq = (a**2).sum(1)[:, None] - 2 * a @ b.T + (b**2).sum(1)[None, :]
    return np.sqrt(np.maximum(sq, 0.0))


def r_precision(text_emb: np.ndarray, motion_emb: np.ndarray, top_k: int = 3) -> np.ndarray:
    """Hit rates ``[top_k]`` of one batch: for each text, is its own motion among the k nearest motions?"""
    dist = euclidean_distances(text_emb, motion_emb)
    ranks = np.argsort(dist, axis=1, kind="stable")
    hits = ranks[:, :top_k] == np.arange(len(dist))[:, None]
    return np.cumsum(hits, axis=1).mean(axis=0)


def matching_score(text_emb: np.ndarray, motion_emb: np.ndarray) -> float:
    """MultiModal distance: mean Euclidean distance between each text and its own motion."""
    diff = np.asarray(text_emb, np.float64) - np.asarray(motion_emb, np.float64)
    return float(np.linalg.norm(diff, axis=1).mean())


def diversity(emb: np.ndarray, times: int = 300, rng: np.random.Generator | None = None) -> float:
    """Mean distance between ``times`` random pairs of embeddings (drawn without replacement, twice)."""
    emb = np.asarray(emb, np.float64)
    if len(emb) < times:
        raise ValueError(f"diversity needs at least {times} embeddings, got {len(emb)}")
    rng = rng or np.random.default_rng(0)
    first, second = rng.choice(len(emb), times, replace=False), rng.choice(len(emb), times, replace=False)
    return float(np.linalg.norm(emb[first] - emb[second], axis=1).mean())


def multimodality(emb_groups: np.ndarray, times: int = 10, rng: np.random.Generator | None = None) -> float:
    """Mean distance between ``times`` random pairs of motions generated for the same text.

    ``emb_groups [texts, repeats, D]``.
    """
    groups = np.asarray(emb_groups, np.float64)
    if groups.ndim != 3 or groups.shape[1] < times:
        raise ValueError(f"multimodality needs [texts, repeats >= {times}, D], got {list(groups.shape)}")
    rng = rng or np.random.default_rng(0)
    first = np.stack([rng.choice(groups.shape[1], times, replace=False) for _ in range(len(groups))])
    second = np.stack([rng.choice(groups.shape[1], times, replace=False) for _ in range(len(groups))])
    rows = np.arange(len(groups))[:, None]
    return float(np.linalg.norm(groups[rows, first] - groups[rows, second], axis=-1).mean())


def confidence_interval(values: np.ndarray) -> tuple[float, float]:
    """Mean and 95 % half-width ``1.96 * std / sqrt(n)`` over replications (the T2M protocol)."""
    values = np.asarray(values, np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError("need a non-empty 1-d array of replications")
    return float(values.mean()), float(1.96 * values.std() / np.sqrt(len(values)))
