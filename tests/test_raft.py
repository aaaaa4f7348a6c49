"""RAFT (reward-ranked fine-tuning): the distillation loss, the kept set, LoRA-only training, resume, the CLI."""

import json

import pytest
import torch
from conftest import assert_adapter_gated
from typer.testing import CliRunner

from nomocap.checkpoint import load_tensors
from nomocap.cli import app
from nomocap.data.prompts import Prompt, load_prompts
from nomocap.diffusion.schedules import NoiseSchedule
from nomocap.pipeline import MotionPipeline, Samples
from nomocap.pretrain import denoising_loss
from nomocap.rewards import MotionBatch
from nomocap.rewards.retrieval import RetrievalReward
from nomocap.rl import method_config, trainer_class
from nomocap.rl.ddpo import DDPOConfig, DDPOTrainer
from nomocap.rl.raft import RAFTConfig, RAFTTrainer

runner = CliRunner()


def make_raft(tiny_runs, out, **overrides) -> RAFTTrainer:
    data, base, reward_run = tiny_runs
    cfg = RAFTConfig.from_preset("tiny", **overrides)
    prompts = [Prompt(p.text, 40) for p in load_prompts(data, "train")]
    out.mkdir(parents=True, exist_ok=True)
    return RAFTTrainer(MotionPipeline.from_run(base), RetrievalReward.from_run(reward_run), prompts, cfg, out, base,
                       replay=prompts[:5], val_prompts=prompts[:4])


class Recorder(torch.nn.Module):
    """A 'denoiser' that predicts a constant and records the conditions it was given."""

    def __init__(self, value: float):
        super().__init__()
        self.value, self.conds, self.timesteps = value, [], []

    def forward(self, x, t, cond, mask=None):
        self.conds.append(cond)
        self.timesteps.append(t)
        return torch.full_like(x, self.value)


def test_denoising_loss_against_the_closed_form():
    schedule = NoiseSchedule.named("cosine", 100)
    x0 = torch.randn(3, 8, 5, generator=torch.Generator().manual_seed(0))
    mask = torch.arange(8)[None] < torch.tensor([8, 5, 2])[:, None]
    cond, null = torch.ones(3, 4), torch.zeros(1, 4)
    gen = torch.Generator().manual_seed(1)
    # A constant prediction c: the loss is the masked mean of (c - x0)^2, whatever the noise and timestep.
    for c in (0.0, 0.7):
        loss = denoising_loss(Recorder(c), schedule, x0, mask, cond, null, 0.0, gen)
        m = mask[..., None].float()
        assert float(loss) == pytest.approx(float((((c - x0) ** 2) * m).sum() / (m.sum() * 5)), rel=1e-6)
    # Latent models: no mask, every entry counts.
    loss = denoising_loss(Recorder(0.0), schedule, x0, None, cond, null, 0.0, gen)
    assert float(loss) == pytest.approx(float((x0**2).mean()), rel=1e-6)
    # Condition dropout 1: only the null condition is seen; 0: only the real one.
    for rate, expected in ((1.0, null.expand(3, -1)), (0.0, cond)):
        model = Recorder(0.0)
        denoising_loss(model, schedule, x0, mask, cond, null, rate, gen)
        assert torch.equal(model.conds[0], expected)


def test_min_timestep_distils_and_gates_only_the_high_noise_levels(tiny_runs, tmp_path):
    schedule = NoiseSchedule.named("cosine", 100)
    model = Recorder(0.0)
    denoising_loss(model, schedule, torch.randn(256, 2, 3), None, torch.ones(256, 4), torch.zeros(1, 4), 0.0,
                   torch.Generator().manual_seed(0), min_timestep=70)
    assert int(model.timesteps[0].min()) == 70 and int(model.timesteps[0].max()) == 99  # 256 draws of 30 values

    _, base, _ = tiny_runs
    steps = MotionPipeline.from_run(base).schedule.num_steps
    with pytest.raises(ValueError, match="min_timestep"):
        make_raft(tiny_runs, tmp_path / "bad", min_timestep=steps)
    gate = steps // 2
    trainer = make_raft(tiny_runs, tmp_path / "r", lr=1e-2, min_timestep=gate)
    out = trainer.run()
    kept, _ = trainer.sample(trainer.draw_prompts(0), trainer._generator(0))
    tuned, plain = MotionPipeline.from_run(base, adapter=out / "adapter"), MotionPipeline.from_run(base)
    assert tuned.adapter_min_timestep == gate
    x, mask = torch.randn_like(kept.latents), plain.step_mask(kept.mask)
    assert_adapter_gated(tuned, plain, x, kept.cond, mask, gate)


def test_a_round_keeps_each_prompts_best_draw(tiny_runs, tmp_path):
    trainer = make_raft(tiny_runs, tmp_path / "r", candidates=3, prompts_per_round=4, sample_batch=2)
    prompts = trainer.draw_prompts(0)
    kept, info = trainer.sample(prompts, trainer._generator(0))
    assert len(kept.latents) == info["kept"] == 4 and kept.cond.shape[0] == 4
    # Brute force: decode every kept latent and score it alone; it must equal each prompt's best score.
    pipe = trainer.pipe
    with torch.no_grad():
        decoded = Samples(pipe.model.decode(kept.latents, kept.mask), kept.mask, [p.text for p in prompts],
                          kept.latents)
    features = pipe.to_features(decoded)
    scores, _ = trainer.reward(MotionBatch(features, pipe.representation), [p.text for p in prompts])
    assert float(scores.mean()) == pytest.approx(info["reward_kept"], abs=1e-5)
    assert info["reward_kept"] >= info["reward_mean"]


def test_only_lora_trains_and_the_adapter_loads(tiny_runs, tmp_path):
    _, base, _ = tiny_runs
    before = load_tensors(base / "model.safetensors")
    out = make_raft(tiny_runs, tmp_path / "r", lr=1e-2).run()
    assert all(torch.equal(before[k], v) for k, v in load_tensors(base / "model.safetensors").items())
    adapter = load_tensors(out / "adapter" / "adapter_model.safetensors")
    assert adapter and all("lora_" in k for k in adapter)
    assert any(v.abs().max() > 0 for k, v in adapter.items() if "lora_B" in k)  # it moved
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2]
    assert all(k in rows[0] for k in ("reward_mean", "reward_kept", "loss", "val_reward", "val_reward_base"))
    tuned = MotionPipeline.from_run(base, adapter=out / "best")
    assert tuned.model is not None


@pytest.mark.parametrize("guided_loss", [True, False])
def test_raft_fits_its_kept_samples(tiny_runs, tmp_path, guided_loss):
    """Distillation steps on one round's kept set lower the loss on that set (the adapter learns it)."""
    trainer = make_raft(tiny_runs, tmp_path / "r", lr=3e-3, steps_per_round=60, prompts_per_round=4,
                        guided_loss=guided_loss)
    kept, _ = trainer.sample(trainer.draw_prompts(0), trainer._generator(0))

    def loss() -> float:
        with torch.no_grad():
            return float(torch.stack([denoising_loss(trainer.denoiser, trainer.pipe.schedule, kept.latents,
                                                     trainer.pipe.step_mask(kept.mask), kept.cond, trainer.pipe.null,
                                                     0.0, torch.Generator().manual_seed(s)) for s in range(20)]).mean())

    start = loss()
    trainer.train(kept, torch.Generator().manual_seed(5))
    assert loss() < start


def test_resume_after_kill_reproduces_the_adapter(tiny_runs, tmp_path):
    make_raft(tiny_runs, tmp_path / "straight").run()
    make_raft(tiny_runs, tmp_path / "killed").run(stop_after=1)
    make_raft(tiny_runs, tmp_path / "killed").run(resume=True)
    a = load_tensors(tmp_path / "straight" / "adapter" / "adapter_model.safetensors")
    b = load_tensors(tmp_path / "killed" / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_method_picks_config_and_trainer():
    assert isinstance(method_config("raft", "tiny"), RAFTConfig) and trainer_class(RAFTConfig()) is RAFTTrainer
    assert isinstance(method_config("ddpo", "tiny"), DDPOConfig) and trainer_class(DDPOConfig()) is DDPOTrainer
    with pytest.raises(ValueError, match="unknown fine-tuning method"):
        method_config("ppo", "tiny")
    with pytest.raises(ValueError, match="unknown raft setting"):
        method_config("raft", "tiny", clip_range=0.1)
    with pytest.raises(ValueError, match="candidates must be >= 2"):
        RAFTTrainer(None, None, [Prompt("a person walks", 40)], RAFTConfig(candidates=1), "x", "y")


def test_finetune_cli_runs_raft_and_refuses_ddpo_options(tiny_runs, tmp_path):
    data, base, reward_run = tiny_runs
    args = ["finetune", "--method", "raft", "--model", str(base), "--reward", str(reward_run), "--data", str(data),
            "--preset", "tiny", "--seed", "1"]
    bad = runner.invoke(app, args + ["--out", str(tmp_path / "bad"), "--clip-range", "0.1"])
    assert bad.exit_code == 2 and "DDPO settings" in bad.output and not (tmp_path / "bad" / "log.jsonl").exists()
    done = runner.invoke(app, args + ["--out", str(tmp_path / "ok"), "--set", "rounds=1"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "ok" / "best" / "adapter_model.safetensors").exists()
    assert json.loads((tmp_path / "ok" / "config.json").read_text())["raft"]["rounds"] == 1
