"""benchmarks/grad_snr.py's estimators against gradients with a known signal and noise."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from grad_snr import adam_snr, signal_and_noise, summary  # noqa: E402


def batches(signal: np.ndarray, noise_std: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return signal + noise_std * rng.standard_normal((k, len(signal)))


def test_signal_and_noise_recover_the_true_ones():
    p = 20_000
    signal = np.full(p, 0.01)  # ||s||^2 = 2.0
    g = batches(signal, np.full(p, 0.02), k=40)  # noise^2 = p * 0.02^2 = 8.0
    s2, n2 = signal_and_noise(g)
    assert s2 == pytest.approx(2.0, rel=0.05)
    assert n2 == pytest.approx(8.0, rel=0.02)
    out = summary(g, rollouts=64)
    assert out["snr"] == pytest.approx(0.25, rel=0.06)
    assert out["mean_pairwise_cosine"] == pytest.approx(0.25 / 1.25, rel=0.06)  # snr / (1 + snr)
    assert out["rollouts_for_snr_1"] == pytest.approx(64 * 4, rel=0.06)
    assert out["signal2_ci"] < 1.0


def test_pure_noise_has_no_signal_within_its_interval():
    p = 5_000
    out = summary(batches(np.zeros(p), np.ones(p), k=16, seed=1), rollouts=64)
    assert abs(out["signal2"]) < out["signal2_ci"]
    assert abs(out["snr"]) < 0.01


def test_adam_scaling_finds_a_signal_in_quiet_coordinates():
    p = 10_000
    noise = np.ones(p)
    noise[:100] = 0.01  # 100 quiet coordinates carry all the signal
    signal = np.zeros(p)
    signal[:100] = 0.01
    g = batches(signal, noise, k=24, seed=2)
    assert abs(summary(g, 64)["snr"]) < 0.001  # the loud coordinates swamp the plain ratio (true: 1e-6)
    # Scaled by the RMS sqrt(s^2 + sd^2): each quiet coordinate adds 1/2 to signal^2 and 1/2 to noise^2
    # -> 50 / (9,900 + 50).
    assert adam_snr(g) == pytest.approx(50 / 9950, rel=0.25)
