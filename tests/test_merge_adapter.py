"""`nomocap merge-adapter`: the merged run samples as base + adapter (both architectures), the base is untouched,
and a gated adapter, an adapter of another base or an occupied --out are refused before anything is written;
`--adapter-scale` moves the weights along the line from the base to the fine-tuned model."""

import json

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from nomocap.checkpoint import load_config, load_tensors
from nomocap.cli import app
from nomocap.models.lora import base_fingerprint, frozen_with_lora, save_adapter
from nomocap.pipeline import MotionPipeline
from nomocap.pretrain import PretrainConfig, pretrain

runner = CliRunner()


@pytest.fixture(scope="module")
def bases(tiny_runs, tmp_path_factory):
    data, mdm, _ = tiny_runs
    mld = pretrain(data, tmp_path_factory.mktemp("merge") / "mld",
                   PretrainConfig.from_preset("tiny", arch="mld", steps=8, vae_steps=8, text_encoder="hash"))
    return {"mdm": mdm, "mld": mld}


def make_adapter(base, folder, min_timestep=None):
    """An adapter with random (non-zero) B matrices, saved as the trainers save theirs."""
    model = frozen_with_lora(MotionPipeline.from_run(base).model, 4, 4.0, seed=0)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.05)
    save_adapter(model, folder, base, base_fingerprint(load_tensors(base / "model.safetensors")), min_timestep)
    return folder


def merge(base, adapter, out, *more):
    return runner.invoke(app, ["merge-adapter", "--model", str(base), "--adapter", str(adapter), "--out", str(out),
                               *more])


@pytest.mark.parametrize("arch", ["mdm", "mld"])
def test_merged_run_samples_as_base_plus_adapter(bases, tmp_path, arch):
    base = bases[arch]
    before = (base / "model.safetensors").read_bytes()
    adapter = make_adapter(base, tmp_path / "adapter")
    result = merge(base, adapter, tmp_path / "merged")
    assert result.exit_code == 0, result.output
    assert (base / "model.safetensors").read_bytes() == before

    adapted = MotionPipeline.from_run(base, adapter=adapter)
    merged, plain = MotionPipeline.from_run(tmp_path / "merged"), MotionPipeline.from_run(base)

    def sample(pipe):
        return pipe.sample(["a person walks forward", "a person waves"], [40, 32], pipe.sampler("dpm++", 10), 2.5,
                           torch.Generator().manual_seed(0)).features

    with torch.no_grad():
        want, got, unmerged = sample(adapted), sample(merged), sample(plain)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    assert (want - unmerged).abs().max() > 1e-2  # the adapter does change the samples
    torch.testing.assert_close(merged.normalizer.mean, plain.normalizer.mean)
    config = load_config(tmp_path / "merged", kind="denoiser")
    assert config["merged_adapter"]["adapter"] == str(adapter.resolve()) and config["arch"] == arch


def test_bad_merges_are_refused_before_writing(bases, tmp_path):
    gated = make_adapter(bases["mdm"], tmp_path / "gated", min_timestep=500)
    result = merge(bases["mdm"], gated, tmp_path / "g")
    assert result.exit_code == 2 and "gated adapter" in " ".join(result.output.split())
    assert not (tmp_path / "g").exists()

    adapter = make_adapter(bases["mdm"], tmp_path / "adapter")
    result = merge(bases["mld"], adapter, tmp_path / "other")
    assert result.exit_code == 2 and "another base model" in " ".join(result.output.split())
    assert not (tmp_path / "other").exists()

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    result = merge(bases["mdm"], adapter, occupied)
    assert result.exit_code == 2 and "--force" in result.output
    assert (occupied / "keep.txt").read_text() == "mine"
    assert merge(bases["mdm"], adapter, occupied, "--force").exit_code == 0
    assert not (occupied / "keep.txt").exists()
    assert json.loads((occupied / "config.json").read_text())["kind"] == "denoiser"


@pytest.mark.parametrize("arch", ["mdm", "mld"])
def test_a_scaled_merge_is_the_base_plus_scaled_low_rank_update(bases, tmp_path, arch):
    """The oracle, from the files alone: W' = W + s * B @ A * alpha / r for every adapted layer, the rest unchanged."""
    base = bases[arch]
    adapter = make_adapter(base, tmp_path / "adapter")
    lora = load_file(str(adapter / "adapter_model.safetensors"))
    alpha_over_r = json.loads((adapter / "adapter_config.json").read_text())["lora_alpha"] / 4
    before = load_tensors(base / "model.safetensors")
    for s in (0.0, 0.4):
        assert merge(base, adapter, tmp_path / f"m{s}", "--adapter-scale", str(s)).exit_code == 0
        after = load_tensors(tmp_path / f"m{s}" / "model.safetensors")
        expected = dict(before)
        for key in (k for k in lora if ".lora_A." in k):
            layer = key.removeprefix("base_model.").removesuffix(".lora_A.weight")
            expected[f"{layer}.weight"] = before[f"{layer}.weight"] + s * alpha_over_r * (
                lora[key.replace("lora_A", "lora_B")] @ lora[key])
        assert after.keys() == expected.keys()
        for key in expected:
            torch.testing.assert_close(after[key], expected[key], atol=1e-6, rtol=1e-5, msg=key)
        assert load_config(tmp_path / f"m{s}", kind="denoiser")["merged_adapter"]["scale"] == s


def test_the_scale_acts_at_inference_as_in_the_merge(bases, tmp_path):
    base = bases["mld"]
    adapter = make_adapter(base, tmp_path / "adapter")
    assert merge(base, adapter, tmp_path / "half", "--adapter-scale", "0.5").exit_code == 0
    scaled = MotionPipeline.from_run(base, adapter=adapter, adapter_scale=0.5)
    merged, plain = MotionPipeline.from_run(tmp_path / "half"), MotionPipeline.from_run(base)
    zero = MotionPipeline.from_run(base, adapter=adapter, adapter_scale=0.0)

    def sample(pipe):
        return pipe.sample(["a person jumps twice"], [40], pipe.sampler("dpm++", 10), 2.5,
                           torch.Generator().manual_seed(0)).features

    with torch.no_grad():
        torch.testing.assert_close(sample(scaled), sample(merged), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(sample(zero), sample(plain), atol=1e-6, rtol=1e-6)


def test_a_scale_without_an_adapter_is_an_error(bases):
    with pytest.raises(ValueError, match="give it with --adapter"):
        MotionPipeline.from_run(bases["mdm"], adapter_scale=0.5)


@pytest.mark.parametrize("scale", ["-0.5", "nan"])
def test_a_bad_scale_is_refused_before_writing(bases, tmp_path, scale):
    adapter = make_adapter(bases["mdm"], tmp_path / "adapter")
    result = merge(bases["mdm"], adapter, tmp_path / "out", "--adapter-scale", scale)
    assert result.exit_code == 2 and "--adapter-scale" in result.output
    assert not (tmp_path / "out").exists()
