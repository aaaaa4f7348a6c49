"""benchmarks/reward_vs_judge.py against brute force, with the judge itself as the reward (an oracle)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from reward_vs_judge import beside_rl, compare, draws_and_scores  # noqa: E402

from nomocap.data.prompts import load_prompts  # noqa: E402
from nomocap.data.synth.judge import judge_batch, judge_motion  # noqa: E402
from nomocap.motion.features import features_to_joints  # noqa: E402
from nomocap.pipeline import MotionPipeline  # noqa: E402


class PassedAttributes:
    """A reward that is the judge: the share of the caption's attributes a motion passes."""

    name = "judge"

    def __init__(self, skeleton):
        self.skeleton = skeleton

    def __call__(self, motions, prompts):
        scores = []
        for feats, prompt in zip(motions.guo_features, prompts):
            verdict = judge_motion(features_to_joints(feats, self.skeleton), prompt)
            scores.append(np.mean(list(verdict.values())) if verdict else 0.0)
        return torch.tensor(scores), {}


def test_selection_by_the_judge_itself(tiny_runs):
    data, base, _ = tiny_runs
    pipe = MotionPipeline.from_run(base)
    pairs = [(p.text, 40) for p in load_prompts(data, "test")][:12]
    reward = PassedAttributes(pipe.skeleton)
    out = compare(pipe, reward, pairs, n=3, seed=0)
    draws, scores = draws_and_scores(pipe, reward, pairs, 3, 0)  # the same seed: the same draws
    captions = [t for t, _ in pairs]
    # Brute force: the judge of the pick and of each draw, from judge_batch alone.
    picks = [draws[int(d)][i] for i, d in enumerate(scores.argmax(1))]
    per_draw = [judge_batch(d, captions)["accuracy"] for d in draws]
    assert out["judge"]["random_draw"] == pytest.approx(np.mean(per_draw))
    assert out["judge"]["reward_pick"] == pytest.approx(judge_batch(picks, captions)["accuracy"])
    assert out["judge"]["reward_pick"] >= max(per_draw) - 1e-12  # picking by the judge never loses
    for row in out["per_attribute"].values():
        assert row["reach_at_n"] >= row["reward_pick"] - 1e-12 and row["reach_at_n"] >= row["random_draw"] - 1e-12
        assert row["selection_gain"] == pytest.approx(row["reward_pick"] - row["random_draw"])


def test_rl_moves_are_put_beside_the_selection(tmp_path):
    gains = {"a.x": 0.2, "b.y": -0.1, "c.z": 0.0, "d.w": 0.05, "e.v": 0.3}
    out = {"per_attribute": {k: {"selection_gain": g} for k, g in gains.items()}}
    rl = {k: {"delta": 2 * g - 0.01, "count": 5} for k, g in gains.items()}
    rl["e.v"]["count"] = 1  # one caption: no paired difference to compare
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"judge_paired": {"per_attribute": rl}}))
    beside_rl(out, results)
    assert out["rl_vs_selection_correlation"] == pytest.approx(1.0)  # RL moving as the selection does
    assert out["per_attribute"]["a.x"]["rl_delta"] == pytest.approx(0.39)
    assert "rl_delta" not in out["per_attribute"]["e.v"]


def test_twin_contrast_subtracts_the_swapped_captions_score(tiny_runs):
    from reward_vs_judge import TwinContrast

    from nomocap.rewards import MotionBatch
    from nomocap.rewards.retrieval import RetrievalReward

    data, base, reward_run = tiny_runs
    pipe = MotionPipeline.from_run(base)
    reward = RetrievalReward.from_run(reward_run)
    prompts = ["a person turns left", "a person walks forward", "a person jumps"]
    samples = pipe.sample(prompts, [40] * 3, pipe.sampler("dpm++", 4), 2.5, torch.Generator().manual_seed(0))
    motions = MotionBatch(pipe.to_features(samples), pipe.representation)
    own = reward(motions, prompts)[0]
    twins = reward(motions, ["a person turns right", "a person walks backward", "a person jumps"])[0]
    scores = TwinContrast(reward, 0.5)(motions, prompts)[0]
    torch.testing.assert_close(scores, own - 0.5 * twins * torch.tensor([1.0, 1.0, 0.0]))
