"""One classifier-free guidance scale for a whole experiment: its fine-tuning and its protocol take it; ``nomocap
evaluate --guidance`` samples every row at it; the paper preset's per-architecture scales; a scale that is no scale
fails before any work."""

import pytest
from typer.testing import CliRunner

from nomocap.cli import app
from nomocap.eval.protocol import ProtocolConfig
from nomocap.experiments.cross_dataset import CrossDatasetConfig
from nomocap.experiments.leave_one_out import LeaveOneOutConfig
from nomocap.pipeline import MotionPipeline
from nomocap.retrieval.train import EmbeddingTrainConfig, train_embedding_model
from nomocap.rl import method_config

runner = CliRunner()


@pytest.mark.parametrize("config", [CrossDatasetConfig, LeaveOneOutConfig])
@pytest.mark.parametrize("method", ["ddpo", "raft", "draft"])
def test_an_experiments_guidance_reaches_its_fine_tuning_and_its_protocol(config, method):
    default = config(preset="tiny", method=method)
    assert default.finetune_config(0).guidance == default.protocol().guidance == 2.5  # the presets' scale
    chosen = config(preset="tiny", method=method, guidance=5.0)
    assert chosen.finetune_config(3).guidance == chosen.protocol().guidance == 5.0
    assert chosen.finetune_config(3).seed == 3


@pytest.mark.parametrize("method", ["ddpo", "raft", "draft"])
def test_the_paper_preset_samples_mdm_at_5_and_the_latent_model_at_2_5(method):
    """The paper's scales: MDM at 5, StableMoFusion at 2.5; the CPU presets keep 2.5 for both."""
    for preset, arch, scale in (("paper", "mdm", 5.0), ("paper", "mld", 2.5), ("small", "mdm", 2.5)):
        assert method_config(method, preset, arch).guidance == scale, (preset, arch)
        assert ProtocolConfig.from_preset(preset, arch).guidance == scale, (preset, arch)
        assert CrossDatasetConfig(preset=preset, arch=arch, method=method).protocol().guidance == scale
    assert CrossDatasetConfig(preset="paper", arch="mdm", guidance=2.5).protocol().guidance == 2.5


@pytest.mark.parametrize("guidance", [-1.0, float("nan"), float("inf")])
def test_a_guidance_that_is_no_scale_is_refused(guidance):
    with pytest.raises(ValueError, match="give a finite scale >= 0"):
        ProtocolConfig(guidance=guidance)
    with pytest.raises(ValueError, match="give a finite scale >= 0"):
        CrossDatasetConfig(preset="tiny", guidance=guidance)


def test_evaluate_samples_every_row_at_the_given_guidance(tiny_runs, tmp_path, monkeypatch):
    data, base, _ = tiny_runs
    evaluator = train_embedding_model(data, tmp_path / "evaluator", EmbeddingTrainConfig.from_preset(
        "evaluator", "tiny", steps=2, text_encoder="hash"))
    seen = []
    sample = MotionPipeline.sample

    def spy(self, prompts, lengths, sampler, guidance, *args, **kwargs):
        seen.append(guidance)
        return sample(self, prompts, lengths, sampler, guidance, *args, **kwargs)

    monkeypatch.setattr(MotionPipeline, "sample", spy)
    command = ["evaluate", "--evaluator", str(evaluator), "--data", str(data), "--model", str(base), "--preset",
               "tiny", "--replications", "1", "--device", "cpu"]
    result = runner.invoke(app, command + ["--guidance", "4"])
    assert result.exit_code == 0, result.output
    assert seen and set(seen) == {4.0}
    seen.clear()
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    assert seen and set(seen) == {2.5}
    seen.clear()
    paper = [a if a != "tiny" else "paper" for a in command]  # an mdm base in the paper preset: the paper's 5
    result = runner.invoke(app, paper)
    assert result.exit_code == 0, result.output
    assert seen and set(seen) == {5.0}
    result = runner.invoke(app, command + ["--guidance", "-2"])
    assert result.exit_code != 0 and "give a finite scale >= 0" in " ".join(result.output.split())


@pytest.mark.parametrize("method", ["ddpo", "raft", "draft"])
def test_a_fine_tunings_guidance_that_is_no_scale_is_refused(method):
    assert method_config(method, "tiny", guidance=4.0).guidance == 4.0
    with pytest.raises(ValueError, match="give a finite scale >= 0"):
        method_config(method, "tiny", guidance=-0.5)


def test_generate_refuses_a_guidance_that_is_no_scale_and_writes_nothing(tiny_runs, tmp_path):
    _, base, _ = tiny_runs
    out = tmp_path / "wave.npy"
    result = runner.invoke(app, ["generate", "a person waves", "--model", str(base), "--out", str(out),
                                 "--guidance", "-3", "--device", "cpu"])
    assert result.exit_code != 0 and "give a finite scale >= 0" in " ".join(result.output.split())
    assert not out.exists()
