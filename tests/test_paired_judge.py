"""The paired judge comparison against the unpaired judge accuracies it is built from."""

import numpy as np
import pytest

from nomocap.data.humanml import load_corpus
from nomocap.data.prompts import load_prompts
from nomocap.data.synth.judge import judge_batch
from nomocap.eval.protocol import judge_difference, judge_difference_over_bases, judge_prompts, paired_judge
from nomocap.experiments.common import judge_paired_note
from nomocap.motion.features import features_to_joints
from nomocap.pipeline import MotionPipeline


def captions_and_motions(data) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """The test split's captions, their real motions, and the same motions with every caption paired with another
    caption's motion."""
    corpus = load_corpus(data, "test")
    real = [features_to_joints(it.features, corpus.skeleton) for it in corpus.items]
    return [it.texts[0].text for it in corpus.items], real, real[1:] + real[:1]


def test_judge_difference_against_each_models_own_accuracy(tiny_runs):
    data, _, _ = tiny_runs
    captions, real, wrong = captions_and_motions(data)
    alone = {name: judge_batch(m, captions)["accuracy"] for name, m in (("real", real), ("wrong", wrong))}
    assert alone["real"] > alone["wrong"]  # otherwise the comparison below proves little

    same = judge_difference(captions, real, [real])
    assert same["base"] == same["finetuned"] == pytest.approx(alone["real"])
    assert same["delta"] == 0.0 and same["ci"] == 0.0
    both = judge_difference(captions, real, [wrong, real])
    # Brute force: the fine-tuned side is the mean of each model's own accuracy, the delta its distance to the base.
    assert both["finetuned"] == pytest.approx((alone["wrong"] + alone["real"]) / 2)
    assert both["delta"] == pytest.approx(both["finetuned"] - alone["real"]) and both["delta"] < 0
    assert both["ci"] > 0 and both["models"] == 2 and both["captions"] == sum(bool(judge_batch([m], [c])["verdicts"][0])
                                                                           for m, c in zip(real, captions))
    with pytest.raises(ValueError, match="at least one"):
        judge_difference(captions, real, [])


def test_per_attribute_difference_against_each_models_per_attribute_accuracy(tiny_runs):
    data, _, _ = tiny_runs
    captions, real, wrong = captions_and_motions(data)
    own = {name: judge_batch(m, captions)["per_attribute"] for name, m in (("real", real), ("wrong", wrong))}
    table = judge_difference(captions, real, [wrong, real])["per_attribute"]
    assert set(table) == set(own["real"]) and not any("#" in name for name in table)
    for name, row in table.items():
        assert row["base"] == pytest.approx(own["real"][name])
        assert row["finetuned"] == pytest.approx((own["wrong"][name] + own["real"][name]) / 2)
        assert row["delta"] == pytest.approx(row["finetuned"] - row["base"])
    assert sum(row["count"] for row in table.values()) == judge_batch(real, captions)["attributes"]
    note = judge_paired_note(judge_difference(captions, real, [wrong]), "k")
    moved = [name for name, row in judge_difference(captions, real, [wrong])["per_attribute"].items()
             if abs(row["delta"]) > row["ci"]]
    assert moved and all(name in note for name in moved)  # a wrong motion per caption loses attributes
    assert "No single attribute" in judge_paired_note(judge_difference(captions, real, [real]), "k")


def test_judge_difference_over_bases_against_one_base_and_the_closed_form(tiny_runs):
    data, _, _ = tiny_runs
    captions, real, wrong = captions_and_motions(data)
    lost = judge_difference(captions, real, [wrong])
    assert lost["delta"] < 0 and lost["ci"] > 0
    # Two bases that are the same motions: averaging over the bases is averaging over their fine-tuned models.
    same_base = judge_difference_over_bases(captions, [(real, [wrong]), (real, [real])])
    pooled = judge_difference(captions, real, [wrong, real])
    assert same_base["delta"] == pytest.approx(pooled["delta"]) and same_base["models"] == 2
    assert same_base["ci_captions"] == pytest.approx(pooled["ci"])
    assert same_base["per_attribute"].keys() == pooled["per_attribute"].keys()
    for name, row in pooled["per_attribute"].items():
        assert same_base["per_attribute"][name] == pytest.approx(row), name
    assert [b["delta"] for b in same_base["per_base"]] == pytest.approx([lost["delta"], 0.0])
    # Closed form: opposite changes on two bases cancel caption by caption; the bases disagree by 2·|delta|.
    opposite = judge_difference_over_bases(captions, [(real, [wrong]), (wrong, [real])])
    assert opposite["delta"] == pytest.approx(0.0) and opposite["ci_captions"] == pytest.approx(0.0)
    assert opposite["ci_bases"] == pytest.approx(1.96 * abs(lost["delta"]) / np.sqrt(2))
    assert opposite["ci"] == opposite["ci_bases"] and opposite["bases"] == 2
    assert [b["ci"] for b in opposite["per_base"]] == pytest.approx([lost["ci"]] * 2)
    note = judge_paired_note(opposite, "k")
    assert "Over 2 pretrained bases" in note and f"{lost['delta']:+.3f}" in note
    assert "per_base" not in judge_difference_over_bases(captions, [(real, [wrong])])  # one base: as before
    with pytest.raises(ValueError, match="at least one fine-tuned model per base"):
        judge_difference_over_bases(captions, [(real, [wrong]), (real, [])])


def test_paired_judge_of_a_model_against_itself_is_exactly_zero(tiny_runs):
    data, base, _ = tiny_runs
    pairs = [(p.text, 40) for p in load_prompts(data, "test")][:24]
    pipe = MotionPipeline.from_run(base)
    same = paired_judge(pipe, [pipe], pairs)  # the same noise for both: the same motions
    assert same["delta"] == 0.0 and same["ci"] == 0.0
    assert same["base"] == pytest.approx(judge_prompts(pipe, pairs)["accuracy"])
    assert np.isfinite(same["base"]) and same["captions"] > 1
