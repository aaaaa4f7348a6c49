"""Reach (best-of-N judged draws) against counts known in advance, and the `nomocap reach` command."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from nomocap.cli import app
from nomocap.data.humanml import CorpusError, load_corpus
from nomocap.data.synth.judge import judge_motion
from nomocap.eval import reach as reach_module
from nomocap.eval.reach import best_of_n, reach_pairs

runner = CliRunner()


def _ground_truth_joints(data) -> dict[str, np.ndarray]:
    """Each test caption's own motion, as joints (the corpus's ``new_joints``)."""
    joints = {}
    for item in load_corpus(data, "test").items:
        for caption in item.texts:
            joints.setdefault(caption.text, np.load(data / "new_joints" / f"{item.name.split('#')[0]}.npy"))
    return joints


def test_best_of_n_counts_passing_draws_as_a_brute_force_recount(tiny_runs, monkeypatch):
    data, _, _ = tiny_runs
    truth = _ground_truth_joints(data)
    pairs = reach_pairs(data, "test", captions=6, seed=3)
    standing = np.repeat(next(iter(truth.values()))[:1], 60, axis=0)  # one frame held: no movement at all

    def draws(pipe, batch, *args, **kwargs):  # every other draw is the caption's own motion, the rest a still pose
        return [truth[caption] if i % 2 == 0 else standing for i, (caption, _) in enumerate(batch)]

    monkeypatch.setattr(reach_module, "generate_joints", draws)
    result = best_of_n(None, pairs, samples=4)

    def passes(joints, caption):
        verdict = judge_motion(joints, caption)
        return bool(verdict) and all(verdict.values())

    expected = [2 * passes(truth[c], c) + 2 * passes(standing, c) for c, _ in pairs]
    assert result["passes"] == expected
    assert sum(expected) > 0 and any(e < 4 for e in expected)  # both outcomes occur: the recount checks something
    assert result["reach"] == pytest.approx(np.mean([e > 0 for e in expected]))
    assert result["sample_pass_rate"] == pytest.approx(np.mean(expected) / 4)
    assert result["unreached"] == [c for (c, _), e in zip(pairs, expected) if e == 0]


def test_reach_pairs_are_a_seeded_subset_of_distinct_captions_with_their_lengths(tiny_runs, tmp_path):
    data, _, _ = tiny_runs
    everything = reach_pairs(data, "test", captions=10_000)
    assert len({c for c, _ in everything}) == len(everything)
    some = reach_pairs(data, "test", captions=5, seed=1)
    assert some == reach_pairs(data, "test", captions=5, seed=1) and set(some) <= set(everything)
    assert [everything.index(p) for p in some] == sorted(everything.index(p) for p in some)
    left = reach_pairs(data, "test", captions=10_000, match=r"\bLEFT\b")
    assert left and left == [p for p in everything if re.search(r"\bleft\b", p[0], re.I)]
    with pytest.raises(CorpusError, match="no test captions match"):
        reach_pairs(data, "test", match="pirouette")
    with pytest.raises(ValueError, match="not a regular expression"):
        reach_pairs(data, "test", match="(left")
    free_text = tmp_path / "prompts.txt"
    free_text.write_text("a dancer performs a pirouette\nsomeone juggles three balls\n")
    with pytest.raises(CorpusError, match="judge reads the embedded corpus"):
        reach_pairs(free_text)
    mixed = tmp_path / "mixed.txt"
    mixed.write_text(f"a dancer performs a pirouette\n{everything[0][0]}\n")
    assert [c for c, _ in reach_pairs(mixed)] == [everything[0][0]]  # what the judge cannot read is left out
    with pytest.raises(ValueError, match="t2m motions only"):
        reach_pairs(data, skeleton="kit")
    with pytest.raises(ValueError, match="--captions"):
        reach_pairs(data, captions=0)


def test_reach_command_prints_the_table_and_writes_what_best_of_n_measures(tiny_runs, tmp_path):
    data, base, _ = tiny_runs
    out = tmp_path / "reach.json"
    result = runner.invoke(app, ["reach", "--model", str(base), "--data", str(data), "--captions", "3",
                                 "--samples", "4", "--out", str(out), "--device", "cpu", "--seed", "2"])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert "passing draws" in result.output and f"of {written['captions']} captions" in result.output
    from nomocap.pipeline import MotionPipeline

    direct = best_of_n(MotionPipeline.from_run(base, "cpu"), reach_pairs(data, "test", captions=3, seed=2), 4, seed=2)
    assert written == direct


def test_reach_command_refuses_bad_input_before_sampling(tiny_runs, tmp_path):
    data, base, _ = tiny_runs
    cases = [(["--category", "dancing"], "dancing"), (["--samples", "0"], "--samples"),
             (["--match", "pirouette"], "pirouette"), (["--model", str(tmp_path / "missing")], "missing")]
    for extra, message in cases:
        args = ["reach", "--model", str(base), "--data", str(data), *extra]
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.output, (extra, result.output)
