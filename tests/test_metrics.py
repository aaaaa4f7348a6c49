"""T2M metrics against closed forms and brute-force loops."""

import numpy as np
import pytest

from nomocap.eval.metrics import (
    confidence_interval,
    diversity,
    euclidean_distances,
    frechet_distance,
    gaussian_stats,
    matching_score,
    multimodality,
    r_precision,
)


def _spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + d * np.eye(d) * 0.1


def test_fid_of_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 8))
    assert abs(frechet_distance(*gaussian_stats(x), *gaussian_stats(x))) < 1e-6


def test_fid_matches_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 0.5])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 1.0])
    expected = ((mu1 - mu2) ** 2).sum() + (v1 + v2 - 2 * np.sqrt(v1 * v2)).sum()
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-9)


def test_fid_matches_symmetric_square_root_form():
    rng = np.random.default_rng(1)
    c1, c2 = _spd(rng, 6), _spd(rng, 6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    w, v = np.linalg.eigh(c1)
    root1 = v @ np.diag(np.sqrt(w)) @ v.T
    inner = np.linalg.eigvalsh(root1 @ c2 @ root1)
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.sqrt(inner).sum()
    assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(expected, rel=1e-8)


def test_fid_singular_covariance_uses_offset():
    x = np.random.default_rng(2).normal(size=(3, 10))  # rank-deficient covariance
    value = frechet_distance(*gaussian_stats(x), *gaussian_stats(x[::-1] + 1.0))
    assert np.isfinite(value) and value > 0


def test_r_precision_aligned_and_random():
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(32, 16))
    np.testing.assert_allclose(r_precision(emb, emb, 3), [1.0, 1.0, 1.0])
    hits = np.mean([r_precision(rng.normal(size=(32, 16)), rng.normal(size=(32, 16)), 3) for _ in range(400)], 0)
    np.testing.assert_allclose(hits, np.array([1, 2, 3]) / 32, atol=0.01)


def test_r_precision_against_brute_force():
    rng = np.random.default_rng(4)
    t, m = rng.normal(size=(32, 5)), rng.normal(size=(32, 5))
    expected = np.zeros(3)
    for i in range(32):
        dists = [np.linalg.norm(t[i] - m[j]) for j in range(32)]
        rank = sorted(range(32), key=lambda j: dists[j]).index(i)
        for k in range(3):
            expected[k] += rank <= k
    np.testing.assert_allclose(r_precision(t, m, 3), expected / 32)
    np.testing.assert_allclose(euclidean_distances(t, m)[3, 7], np.linalg.norm(t[3] - m[7]))


def test_matching_score():
    t = np.array([[0.0, 0.0], [1.0, 1.0]])
    m = np.array([[3.0, 4.0], [1.0, 2.0]])
    assert matching_score(t, m) == pytest.approx((5.0 + 1.0) / 2)


def test_diversity_against_loop_and_all_pairs():
    rng = np.random.default_rng(5)
    emb = rng.normal(size=(400, 4))
    got = diversity(emb, 300, np.random.default_rng(9))
    draw = np.random.default_rng(9)
    first, second = draw.choice(400, 300, replace=False), draw.choice(400, 300, replace=False)
    loop = sum(np.linalg.norm(emb[i] - emb[j]) for i, j in zip(first, second)) / 300
    assert got == pytest.approx(loop)
    all_pairs = np.mean([np.linalg.norm(emb[i] - emb[j]) for i in range(400) for j in range(400) if i != j])
    assert got == pytest.approx(all_pairs, rel=0.08)
    with pytest.raises(ValueError):
        diversity(emb[:10], 300)


def test_multimodality_against_loop():
    rng = np.random.default_rng(6)
    groups = rng.normal(size=(20, 30, 3)) * np.arange(1, 21)[:, None, None]
    got = multimodality(groups, 10, np.random.default_rng(3))
    draw = np.random.default_rng(3)
    firsts = [draw.choice(30, 10, replace=False) for _ in range(20)]
    seconds = [draw.choice(30, 10, replace=False) for _ in range(20)]
    loop = np.mean([np.linalg.norm(groups[g, i] - groups[g, j])
                    for g in range(20) for i, j in zip(firsts[g], seconds[g])])
    assert got == pytest.approx(loop)


def test_confidence_interval_formula():
    values = np.array([1.0, 2.0, 3.0, 4.0])
    mean, half = confidence_interval(values)
    assert mean == 2.5 and half == pytest.approx(1.96 * np.sqrt(1.25) / 2)
