"""Measurements stored once per experiment folder: the stored numbers are the direct computation's, a second
call reads them instead of sampling, and anything that changes what a model samples changes its fingerprint."""

import numpy as np
import pytest
import torch

from nomocap.data.prompts import load_prompts
from nomocap.eval import protocol
from nomocap.eval.precision import combine_confusions, precision_axis, precision_confusion
from nomocap.eval.protocol import EvalSet, ProtocolConfig, evaluate, generate_joints, paired_judge_over_bases
from nomocap.experiments.measured import Measurements, pipeline_fingerprint
from nomocap.pipeline import MotionPipeline
from nomocap.retrieval.train import EmbeddingModel
from nomocap.rewards.best_of_n import BestOfN


def perturbed(base) -> MotionPipeline:
    """The base model with one weight nudged: another model that samples other motions."""
    pipe = MotionPipeline.from_run(base)
    with torch.no_grad():
        next(pipe.model.parameters()).add_(0.05)
    return pipe


def refuse(*args, **kwargs):
    raise AssertionError("sampled again instead of reading the stored measurement")


def test_get_measures_once_and_returns_what_json_reads(tmp_path):
    measured, calls = Measurements(tmp_path), []

    def measure():
        calls.append(1)
        return {"mean": np.float64(0.25), "values": (1, 2)}

    first = measured.get("row", {"model": "a"}, measure)
    assert Measurements(tmp_path).get("row", {"model": "a"}, refuse) == first == {"mean": 0.25, "values": [1, 2]}
    assert type(first["mean"]) is float and len(calls) == 1
    measured.get("row", {"model": "b"}, measure)  # another key: measured anew, beside the first
    assert len(calls) == 2 and len(list(tmp_path.glob("row-*.json"))) == 2
    for stored in tmp_path.glob("row-*.json"):
        stored.write_text('{"kind": "row", "val')  # a damaged file is measured again, not an error
    assert measured.get("row", {"model": "a"}, measure) == first and len(calls) == 3


def test_a_pipelines_fingerprint_follows_what_it_samples(tiny_runs):
    _, base, reward = tiny_runs
    first, again = MotionPipeline.from_run(base), MotionPipeline.from_run(base)
    assert pipeline_fingerprint(first) == pipeline_fingerprint(again)
    assert pipeline_fingerprint(perturbed(base)) != pipeline_fingerprint(first)
    again.adapter_min_timestep = 500
    assert pipeline_fingerprint(again) != pipeline_fingerprint(first)
    with pytest.raises(TypeError, match="BestOfN"):
        pipeline_fingerprint(BestOfN(first, lambda batch, prompts: (torch.zeros(len(prompts)), {}), 2))


def test_stored_rows_and_judgements_are_the_direct_computations(tiny_runs, tmp_path, monkeypatch):
    data, base, reward = tiny_runs
    pipe, other = MotionPipeline.from_run(base), perturbed(base)
    evaluator = EmbeddingModel.load(reward, "retrieval")  # any embedding model grades here
    cfg = ProtocolConfig(replications=2, batch=8, mm_texts=2, mm_repeats=3, mm_times=2, diversity_times=5)
    eval_set = EvalSet(data, "test", evaluator)
    measured = Measurements(tmp_path)
    assert measured.row(evaluator, cfg, pipe, eval_set) == evaluate(evaluator, data, cfg, pipe, eval_set=eval_set)
    gen = ("dpm++", 4, 2.5)
    pairs = [(p.text, 40) for p in load_prompts(data, "test")][:16]
    _, _, difference = measured.paired([pipe], [[other]], pairs, gen)
    assert difference == paired_judge_over_bases([(pipe, [other])], pairs, *gen)
    twins = [(text, frames) for text, frames in pairs if precision_axis(text)] or pairs[:4]
    judged = [measured.judged(p, twins, gen, confusion=True) for p in (pipe, other)]
    motions = [j for p in (pipe, other) for j in generate_joints(p, twins, *gen)]
    combined, direct = combine_confusions([j["confusion"] for j in judged]), precision_confusion(
        motions, [t for t, _ in twins] * 2)
    assert combined["counts"] == direct["counts"] and sum(direct["counts"]["all"].values()) > 0
    np.testing.assert_equal(combined["shares"], direct["shares"])  # NaN where an axis has no attribute, in both
    # A re-run (a new Measurements on the same folder) samples nothing.
    monkeypatch.setattr(protocol, "generate_joints", refuse)
    monkeypatch.setattr("nomocap.experiments.measured.generate_joints", refuse)
    monkeypatch.setattr("nomocap.experiments.measured.evaluate", refuse)
    again = Measurements(tmp_path)
    assert again.row(evaluator, cfg, pipe, eval_set) == measured.row(evaluator, cfg, pipe, eval_set)
    assert again.paired([pipe], [[other]], pairs, gen)[2] == difference
