"""Retrieval model and evaluator: negative filtering, training signal, the protocol's ground-truth row."""

import json

import numpy as np
import pytest
import torch

from nomocap.data.synth.corpus import synthesize
from nomocap.eval.protocol import EvalSet, ProtocolConfig, evaluate, markdown_table
from nomocap.motion.features import features_to_joints
from nomocap.retrieval.scores import mirror_separation, retrieval_scores
from nomocap.retrieval.tmr import TMR, TMRConfig, negative_filter
from nomocap.retrieval.train import EmbeddingModel, EmbeddingTrainConfig, train_embedding_model
from nomocap.rewards.physics import foot_skating, ground_penetration, jitter


def test_near_identical_captions_are_not_negatives():
    emb = torch.tensor([[1.0, 0.0], [0.99, 0.05], [0.0, 1.0]])  # captions 0 and 1 say the same thing
    mask = negative_filter(emb, 0.8)
    assert mask[0, 1] and mask[1, 0] and not mask[0, 2] and not mask.diagonal().any()
    model = TMR(TMRConfig(feature_dim=4, text_dim=2, latent_dim=8, width=16, layers=1, heads=2, max_frames=8,
                          max_tokens=4, dropout=0.0))
    motion = (torch.randn(3, 8), torch.zeros(3, 8))
    text = (motion[0].clone(), torch.zeros(3, 8))
    text[0][1] = motion[0][0]  # caption 1's text embedding equals motion 0's: a false negative if unfiltered
    filtered, _ = model.loss(motion, text, emb)
    unfiltered, _ = model.loss(motion, text, torch.eye(3))
    assert filtered < unfiltered


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("ret")
    data = synthesize(root / "h", "h", size=80, seed=2)
    runs = {}
    for kind in ("retrieval", "evaluator"):
        cfg = EmbeddingTrainConfig.from_preset(kind, "tiny", steps=120)
        runs[kind] = train_embedding_model(data, root / kind, cfg)
    return data, runs


def test_retrieval_model_learns_above_chance(trained):
    data, runs = trained
    model = EmbeddingModel.load(runs["retrieval"], "retrieval")
    scores = retrieval_scores(model, data, "train")
    assert scores["text_to_motion_batch32"]["R@1"] > 3 / 32  # chance is 1/32
    assert mirror_separation(model, data, "train")["pairs"] > 0


def test_evaluator_ground_truth_row(trained):
    data, runs = trained
    ev = EmbeddingModel.load(runs["evaluator"], "evaluator")
    cfg = ProtocolConfig.from_preset("tiny", texts=32)
    row = evaluate(ev, data, cfg, None, split="train", eval_set=EvalSet(data, "train", ev))
    assert row["r_precision"]["mean"][2] > 3 / 32  # top-3 above the 3/32 chance level
    assert row["judge_accuracy"]["mean"] > 0.97  # real motions pass the judge
    assert np.isfinite(row["fid"]["mean"]) and row["diversity"]["mean"] > 0
    one = evaluate(ev, data, ProtocolConfig.from_preset("tiny", texts=32, replications=1), None, split="train",
                   eval_set=EvalSet(data, "train", ev))
    eval_set = EvalSet(data, "train", ev)
    idx, _ = eval_set.draw(np.random.default_rng(0), 32, 32)  # the one replication's motions
    joints = [features_to_joints(eval_set.features[i]) for i in idx]
    for name, measure in (("foot_skating", foot_skating), ("penetration", ground_penetration), ("jitter", jitter)):
        assert one[name]["mean"] == pytest.approx(np.mean([measure(j) for j in joints]), rel=1e-6)
    assert one["penetration"]["mean"] < 0.01 and 0 < one["foot_skating"]["mean"] < 1.0  # the corpus stands on its floor
    assert "Foot skating (m/s)" in markdown_table({"Ground truth": one, "older row": {"fid": row["fid"]}})


def test_tmr_decoder_learns_to_reconstruct_and_round_trips(trained, tmp_path):
    data, _ = trained
    cfg = EmbeddingTrainConfig.from_preset("retrieval", "tiny", steps=60, text_encoder="hash",
                                           model={**EmbeddingTrainConfig.from_preset("retrieval", "tiny").model,
                                                  "recon_weight": 1.0})
    run = train_embedding_model(data, tmp_path / "tmr_dec", cfg)
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    model = EmbeddingModel.load(run, "retrieval").model
    assert model.decoder is not None
    feats = torch.from_numpy(np.load(sorted((data / "new_joint_vecs").glob("*.npy"))[0])[:40]).float()[None]
    mu, _ = model.encode_motion(feats, torch.ones(1, 40, dtype=torch.bool))
    assert model.decode(mu, 40).shape == (1, 40, 263)
    plain = TMR(TMRConfig(feature_dim=4, text_dim=2, latent_dim=8, width=16, layers=1, heads=2))
    assert plain.decoder is None and not any(k.startswith("decoder") for k in plain.state_dict())
