"""Pretraining (loss falls, exact resume), generation through the CLI, and bad input."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from nomocap.checkpoint import CheckpointError, load_tensors, save_config
from nomocap.cli import app
from nomocap.data.synth.corpus import synthesize
from nomocap.pipeline import MotionPipeline
from nomocap.pretrain import PretrainConfig, pretrain, read_log

runner = CliRunner()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("data") / "h", "h", size=60, seed=0)


@pytest.fixture(scope="module")
def tiny_run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    pretrain(corpus, out, PretrainConfig.from_preset("tiny", steps=200))
    return out


def test_pretraining_loss_falls(tiny_run):
    rows = read_log(tiny_run)
    first, last = np.mean([r["loss"] for r in rows[:3]]), np.mean([r["loss"] for r in rows[-3:]])
    assert last < 0.75 * first, (first, last)
    tensors = load_tensors(tiny_run / "model.safetensors")
    assert tensors["normalizer.mean"].shape == (263,)


def test_resume_after_kill_matches_uninterrupted(corpus, tmp_path):
    cfg = PretrainConfig.from_preset("tiny", steps=12, checkpoint_every=4, text_encoder="hash")
    pretrain(corpus, tmp_path / "straight", cfg)
    pretrain(corpus, tmp_path / "killed", cfg, stop_after=6)  # dies after step 6; last checkpoint at 4
    with pytest.raises(CheckpointError, match="--resume"):
        pretrain(corpus, tmp_path / "killed", cfg)
    pretrain(corpus, tmp_path / "killed", cfg, resume=True)
    a, b = load_tensors(tmp_path / "straight" / "train_state.safetensors"), \
        load_tensors(tmp_path / "killed" / "train_state.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resume_refuses_other_settings(corpus, tmp_path):
    cfg = PretrainConfig.from_preset("tiny", steps=4, checkpoint_every=4, text_encoder="hash")
    pretrain(corpus, tmp_path / "r", cfg)
    with pytest.raises(CheckpointError, match="other settings"):
        pretrain(corpus, tmp_path / "r", PretrainConfig.from_preset("tiny", steps=8, text_encoder="hash"), resume=True)


def test_generate_writes_joints_features_and_renders(tiny_run, tmp_path):
    result = runner.invoke(app, ["generate", "--model", str(tiny_run), "a person walks forward", "--length", "3",
                                 "--out", str(tmp_path / "walk.npy"), "--seed", "1"])
    assert result.exit_code == 0, result.output
    joints = np.load(tmp_path / "walk.npy")
    assert joints.shape == (60, 22, 3) and np.isfinite(joints).all()
    result = runner.invoke(app, ["generate", "--model", str(tiny_run), "a person jumps", "--features",
                                 "--num-samples", "2", "--sampler", "ddim", "--out", str(tmp_path / "f.npy")])
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "f_01.npy").shape == (120, 263)
    result = runner.invoke(app, ["generate", "--model", str(tiny_run), "a person waves", "--out",
                                 str(tmp_path / "w.gif"), "--length", "2"])
    assert result.exit_code == 0 and (tmp_path / "w.gif").stat().st_size > 0


def test_same_seed_same_motion(tiny_run):
    pipe = MotionPipeline.from_run(tiny_run)
    runs = [pipe.to_features(pipe.sample(["a person squats"], [40], pipe.sampler("sde-dpm++"), 2.5,
                                         torch.Generator().manual_seed(7)))[0] for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("args, needle", [
    (["", "--out", "x.npy"], "empty"),
    (["walk", "--length", "12", "--out", "x.npy"], "at most 196"),
    (["walk", "--out", "x.txt"], "unsupported output"),
    (["walk", "--device", "mps", "--out", "x.npy"], "only cpu and cuda"),
])
def test_generate_bad_input(tiny_run, tmp_path, args, needle):
    args = [a if a != "x.npy" and a != "x.txt" else str(tmp_path / a) for a in args]
    result = runner.invoke(app, ["generate", "--model", str(tiny_run), *args])
    assert result.exit_code == 2 and needle in " ".join(result.output.split()), result.output


def test_generate_refuses_a_run_of_another_kind(tmp_path):
    save_config(tmp_path / "reward", {"kind": "retrieval"})
    result = runner.invoke(app, ["generate", "--model", str(tmp_path / "reward"), "walk", "--out", "x.npy"])
    assert result.exit_code == 2 and "expected a 'denoiser' run" in " ".join(result.output.split())


def test_long_prompt_is_truncated_with_a_warning(tiny_run):
    pipe = MotionPipeline.from_run(tiny_run)
    with pytest.warns(UserWarning, match="truncated"):
        pipe.sample(["walk " * 1000], [40], pipe.sampler("dpm++", 2), 1.0, torch.Generator().manual_seed(0))


def test_rot_representation_round_trip():
    from conftest import random_motion

    from nomocap.motion.features import canonicalize
    from nomocap.motion.representation import get_representation

    rep = get_representation("rot")
    joints = random_motion(5)
    values = rep.from_joints(joints)
    assert values.shape == (len(joints) - 1, 130)
    assert np.abs(rep.to_joints(values) - canonicalize(joints)[:-1]).max() < 1e-3


@pytest.mark.parametrize("arch, repr_", [("mld", "guo"), ("mdm", "rot")])
def test_other_architectures_train_and_generate(corpus, tmp_path, arch, repr_):
    cfg = PretrainConfig.from_preset("tiny", arch=arch, repr=repr_, steps=40, vae_steps=40, text_encoder="hash")
    pretrain(corpus, tmp_path / arch, cfg)
    pipe = MotionPipeline.from_run(tmp_path / arch)
    samples = pipe.sample(["a person walks forward"], [48], pipe.sampler("sde-dpm++"), 2.5,
                          torch.Generator().manual_seed(0), keep_trajectory=True)
    joints = pipe.to_joints(samples)[0]
    assert joints.shape == (48, 22, 3) and np.isfinite(joints).all()
    assert len(samples.trajectory.log_probs) == 10 and samples.trajectory.trainable[:-1] == [True] * 9


def test_mld_resume_after_a_kill_in_the_vae_stage(corpus, tmp_path):
    cfg = PretrainConfig.from_preset("tiny", arch="mld", steps=8, vae_steps=8, checkpoint_every=4, text_encoder="hash")
    pretrain(corpus, tmp_path / "straight", cfg)
    pretrain(corpus, tmp_path / "killed", cfg, stop_after=6)  # killed in the VAE stage (last checkpoint: 4)
    pretrain(corpus, tmp_path / "killed", cfg, resume=True)
    a, b = (load_tensors(tmp_path / n / "model.safetensors") for n in ("straight", "killed"))
    assert all(torch.equal(a[k], b[k]) for k in a)
