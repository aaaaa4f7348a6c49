"""The shipped checkpoints are what their documented commands make (slow: retrains them)."""

import pytest
import torch

from nomocap.checkpoint import load_tensors
from nomocap.data.synth.corpus import synthesize
from nomocap.experiments.common import SHIPPED
from nomocap.pretrain import PretrainConfig, pretrain
from nomocap.retrieval.train import EmbeddingTrainConfig, train_embedding_model


def _close(shipped, made):
    a, b = load_tensors(shipped / "model.safetensors"), load_tensors(made / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-4, rtol=1e-3, msg=key)


@pytest.mark.slow
@pytest.mark.skipif(not (SHIPPED / "base_small_mdm_guo").exists(), reason="no shipped checkpoints in this checkout")
def test_shipped_checkpoints_are_reproduced(tmp_path):
    h = synthesize(tmp_path / "h", "h", seed=0)
    k = synthesize(tmp_path / "k", "k", seed=0)
    _close(SHIPPED / "base_small_mdm_guo", pretrain(h, tmp_path / "base", PretrainConfig.from_preset("small")))
    _close(SHIPPED / "base_small_mdm_guo_9k", pretrain(h, tmp_path / "base_9k",
                                                       PretrainConfig.from_preset("small", steps=9000)))
    _close(SHIPPED / "base_small_mld_guo", pretrain(h, tmp_path / "base_mld",
                                                    PretrainConfig.from_preset("small", arch="mld")))
    _close(SHIPPED / "reward_small", train_embedding_model(k, tmp_path / "reward",
                                                           EmbeddingTrainConfig.from_preset("retrieval", "small")))
    _close(SHIPPED / "evaluator_small", train_embedding_model(k, tmp_path / "ev",
                                                              EmbeddingTrainConfig.from_preset("evaluator", "small")))
    _close(SHIPPED / "reward_small_h", train_embedding_model(h, tmp_path / "reward_h",
                                                             EmbeddingTrainConfig.from_preset("retrieval", "small")))
    _close(SHIPPED / "evaluator_small_h", train_embedding_model(h, tmp_path / "ev_h",
                                                                EmbeddingTrainConfig.from_preset("evaluator", "small")))
