"""DRaFT (reward gradient through the sampler): the differentiable reward against the plain one and finite
differences, the gradient through the sampler against finite differences, the two anchors, LoRA-only training,
resume, bad input, the CLI."""

import json

import pytest
import torch
from conftest import assert_adapter_gated
from typer.testing import CliRunner

from nomocap.checkpoint import load_tensors
from nomocap.cli import app
from nomocap.data.prompts import Prompt, load_prompts
from nomocap.motion.representation import get_representation
from nomocap.motion.skeleton import T2M
from nomocap.pipeline import MotionPipeline
from nomocap.pretrain import PretrainConfig, pretrain
from nomocap.rewards import MotionBatch, WeightedSum
from nomocap.rewards.physics import GroundPenetration, Jitter
from nomocap.rewards.retrieval import RetrievalReward
from nomocap.rl import method_config, trainer_class
from nomocap.rl.draft import DRaFTConfig, DRaFTTrainer

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_mld(tiny_runs, tmp_path_factory):
    data, _, _ = tiny_runs
    out = tmp_path_factory.mktemp("mld") / "base"
    return pretrain(data, out, PretrainConfig.from_preset("tiny", arch="mld", steps=8, vae_steps=8,
                                                          text_encoder="hash"))


def make_draft(tiny_runs, out, base=None, physics: bool = False, **overrides) -> DRaFTTrainer:
    data, tiny_base, reward_run = tiny_runs
    base = base or tiny_base
    cfg = DRaFTConfig.from_preset("tiny", **overrides)
    prompts = [Prompt(p.text, 40) for p in load_prompts(data, "train")]
    out.mkdir(parents=True, exist_ok=True)
    terms = [(RetrievalReward.from_run(reward_run), 1.0)]
    # foot skating is left out: its contact set changes within the finite differences' step (its gradient is
    # checked at the features, tests/test_physics.py)
    terms += [(GroundPenetration(), 1.0), (Jitter(), 1e-3)] if physics else []
    return DRaFTTrainer(MotionPipeline.from_run(base), WeightedSum(terms), prompts, cfg, out, base,
                        replay=prompts[:5], val_prompts=prompts[:4])


@pytest.mark.parametrize("contrastive, twin", [(False, False), (True, False), (False, True)])
def test_differentiable_reward_equals_the_reward_and_its_finite_differences(tiny_runs, contrastive, twin):
    data, _, reward_run = tiny_runs
    reward = RetrievalReward.from_run(reward_run, contrastive, twin=twin)
    texts = [p.text for p in load_prompts(data, "train")[:2]] + ["a person waves the left hand"]  # it has a twin
    gen = torch.Generator().manual_seed(0)
    lengths = [40, 28, 36]
    dim = reward.model.normalizer.mean.shape[0]
    features = torch.randn(3, 40, dim, generator=gen) * torch.from_numpy(reward.model.normalizer.std) \
        + torch.from_numpy(reward.model.normalizer.mean)
    mask = torch.arange(40)[None] < torch.tensor(lengths)[:, None]
    guo = get_representation("guo", T2M)
    plain, _ = reward(MotionBatch([features[i, :n].numpy() for i, n in enumerate(lengths)], guo), texts)
    torch.testing.assert_close(reward.differentiable(features, mask, texts), plain, atol=1e-5, rtol=1e-5)

    # The gradient against central differences along a random direction (float64 throughout).
    reward.model.model.double()
    x = features.double().requires_grad_(True)
    total = reward.differentiable(x, mask, texts).sum()
    (grad,) = torch.autograd.grad(total, x)
    direction = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    h = 1e-4
    with torch.no_grad():
        numeric = (reward.differentiable(x + h * direction, mask, texts).sum()
                   - reward.differentiable(x - h * direction, mask, texts).sum()) / (2 * h)
    assert float((grad * direction).sum()) == pytest.approx(float(numeric), rel=1e-4, abs=1e-8)
    assert grad[~mask].abs().max() == 0  # padding does not count


@pytest.mark.parametrize("arch", ["mdm", "mld", "mld+decoder", "mdm+physics"])
def test_gradient_through_the_sampler_equals_finite_differences(tiny_runs, tiny_mld, tmp_path, arch):
    base = tiny_mld if arch.startswith("mld") else None
    trainer = make_draft(tiny_runs, tmp_path / arch, base=base, adapt_decoder=arch == "mld+decoder",
                         physics=arch == "mdm+physics")
    trained = [n for n, p in trainer.policy.named_parameters() if p.requires_grad]
    assert trained and all("lora_" in n and ".vae.encoder." not in n for n in trained)
    on_decoder = [n for n in trained if ".vae.decoder." in n]
    assert bool(on_decoder) == (arch == "mld+decoder")  # by default the denoiser's adapters only
    assert all(".vae." not in n for n in trained if n not in on_decoder)
    prompts = trainer.draw_prompts(0)
    params = trainer.params
    torch.manual_seed(3)
    with torch.no_grad():  # move away from the zero adapter, where lora_A's gradient vanishes
        for p in params:
            p.add_(0.05 * torch.randn_like(p))
    # With the decoder's adapters on, along them alone: their gradient comes through the decoding only.
    decoder = {id(p) for n, p in trainer.policy.named_parameters() if n in on_decoder}
    direction = [torch.randn_like(p) * (id(p) in decoder or not decoder) for p in params]

    def loss() -> torch.Tensor:
        return trainer.loss(prompts, torch.Generator().manual_seed(11))[0]

    trainer.opt.zero_grad()
    loss().backward()
    analytic = sum(float((p.grad * d).sum()) for p, d in zip(params, direction))
    h = 1e-3

    def shifted(sign: float) -> float:
        with torch.no_grad():
            for p, d in zip(params, direction):
                p.add_(sign * h * d)
            value = float(loss().detach())
            for p, d in zip(params, direction):
                p.sub_(sign * h * d)
        return value

    numeric = (shifted(1) - shifted(-1)) / (2 * h)
    assert analytic == pytest.approx(numeric, rel=0.05, abs=1e-4)
    assert abs(analytic) > 1e-3  # a gradient that reaches the adapters


def test_replayed_prompts_carry_the_anchor_instead_of_the_reward(tiny_runs, tmp_path):
    trainer = make_draft(tiny_runs, tmp_path, replay_anchor_coef=5.0, replay_fraction=0.5, prompts_per_iteration=4)
    prompts = trainer.draw_prompts(0)
    assert trainer.replay_mask(len(prompts)).tolist() == [False, False, True, True]
    assert [p.text for p in prompts[2:]] == [p.text for p in prompts[2:] if p in trainer.replay]

    def rewards_of_the_same_samples(seed: int) -> torch.Tensor:  # the samples loss() makes from this seed
        noise = int(torch.randint(2**62, (1,), generator=torch.Generator().manual_seed(seed)))
        pipe = trainer.pipe
        samples = pipe.sample([p.text for p in prompts], [p.frames for p in prompts], trainer.sampler,
                              trainer.cfg.guidance, torch.Generator().manual_seed(noise))
        return trainer.reward.differentiable(pipe.normalizer.denormalize(samples.features), samples.mask,
                                             [p.text for p in prompts]).detach()

    loss, info = trainer.loss(prompts, torch.Generator().manual_seed(1))
    assert info["replay_anchor"] == 0.0  # the zero adapter: the policy's motion is the base's
    rewards = rewards_of_the_same_samples(1)  # the loss: the target prompts' reward alone
    assert float(loss.detach()) == pytest.approx(-float(rewards[:2].mean()), abs=1e-6)
    with torch.no_grad():
        for p in trainer.params:
            p.add_(0.05 * torch.randn_like(p))
    loss, info = trainer.loss(prompts, torch.Generator().manual_seed(1))
    rewards = rewards_of_the_same_samples(1)
    assert info["replay_anchor"] > 0
    assert float(loss.detach()) == pytest.approx(-float(rewards[:2].mean()) + 5.0 * info["replay_anchor"], rel=1e-5)


def test_adapting_the_decoder_needs_a_latent_model(tiny_runs, tmp_path):
    with pytest.raises(ValueError, match="adapt_decoder.*--arch mld"):
        make_draft(tiny_runs, tmp_path / "mdm", adapt_decoder=True)


def test_sampling_with_a_graph_gives_the_same_motions(tiny_runs):
    _, base, _ = tiny_runs
    pipe = MotionPipeline.from_run(base)
    sampler = pipe.sampler("dpm++", 10)
    args = (["a person walks forward", "a person waves"], [40, 32], sampler, 2.5)
    plain = pipe.sample(*args, torch.Generator().manual_seed(4))
    graphed = pipe.sample(*args, torch.Generator().manual_seed(4), grad_steps=3)
    assert not plain.features.requires_grad
    torch.testing.assert_close(graphed.features.detach(), plain.features, atol=0, rtol=0)


def test_anchor_is_the_masked_mean_square_and_zero_before_the_first_update(tiny_runs, tmp_path):
    a, b = torch.randn(2, 5, 3), torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    expected = sum(float(((a[i, mask[i]] - b[i, mask[i]]) ** 2).sum()) for i in range(2)) / (8 * 3)
    assert float(DRaFTTrainer.anchor(a, b, mask)) == pytest.approx(expected, rel=1e-6)

    trainer = make_draft(tiny_runs, tmp_path / "a", anchor_coef=1.0)
    first = trainer.update(trainer.draw_prompts(0), trainer._generator(0))
    assert first["anchor"] == 0.0  # the zero adapter is the base, drawn from the same noise
    second = trainer.update(trainer.draw_prompts(1), trainer._generator(1))
    assert second["anchor"] > 0


def test_denoiser_anchor_compares_with_the_base_at_the_policys_own_states(tiny_runs, tmp_path):
    _, base, _ = tiny_runs
    trainer = make_draft(tiny_runs, tmp_path / "d", denoiser_anchor_coef=1.0)
    assert trainer.update(trainer.draw_prompts(0), trainer._generator(0))["denoiser_anchor"] == 0.0
    torch.manual_seed(5)
    with torch.no_grad():
        for p in trainer.params:
            p.add_(0.05 * torch.randn_like(p))
    pipe, cfg = trainer.pipe, trainer.cfg
    texts, lengths = ["a person walks forward", "a person waves"], [40, 28]
    samples = pipe.sample(texts, lengths, trainer.sampler, cfg.guidance, torch.Generator().manual_seed(2),
                          keep_trajectory=True, grad_steps=cfg.grad_steps)
    drift = float(trainer.denoiser_drift(samples).detach())

    # By hand, the base from its own run folder (no adapter at all), at every state the policy visited.
    base_pipe = MotionPipeline.from_run(base)
    cond = pipe.encode(texts)
    per_step = []
    with torch.no_grad():
        for i, t in enumerate(trainer.sampler.timesteps):
            x = samples.trajectory.latents[i]
            tt = torch.full((2,), int(t), dtype=torch.long)
            gap = pipe.predict_x0(x, tt, cond, samples.mask, cfg.guidance) \
                - base_pipe.predict_x0(x, tt, cond, samples.mask, cfg.guidance)
            per_step.append(sum(float((gap[b, :n] ** 2).sum()) for b, n in enumerate(lengths))
                            / (sum(lengths) * gap.shape[-1]))
    assert drift == pytest.approx(sum(per_step) / len(per_step), rel=1e-5)
    assert drift > 0
    # It is not the final-sample anchor: that one compares with the base's own trajectory.
    base_samples = base_pipe.sample(texts, lengths, trainer.sampler, cfg.guidance, torch.Generator().manual_seed(2))
    final_anchor = DRaFTTrainer.anchor(samples.features, base_samples.features, samples.mask).detach()
    assert float(final_anchor) != pytest.approx(drift)


def test_only_lora_trains_the_reward_climbs_and_the_run_resumes(tiny_runs, tmp_path):
    _, base, _ = tiny_runs
    before = load_tensors(base / "model.safetensors")
    trainer = make_draft(tiny_runs, tmp_path / "straight", lr=3e-3)
    prompts = trainer.draw_prompts(0)
    start = float(trainer.loss(prompts, torch.Generator().manual_seed(1))[0].detach())
    for _ in range(3):  # three steps on one batch: its reward rises (the gradient is the reward's)
        trainer.opt.zero_grad()
        trainer.loss(prompts, torch.Generator().manual_seed(1))[0].backward()
        assert all(p.grad is not None for p in trainer.params)
        trainer.opt.step()
    assert float(trainer.loss(prompts, torch.Generator().manual_seed(1))[0].detach()) < start

    out = make_draft(tiny_runs, tmp_path / "straight2").run()
    make_draft(tiny_runs, tmp_path / "killed").run(stop_after=1)
    make_draft(tiny_runs, tmp_path / "killed").run(resume=True)
    assert all(torch.equal(before[k], v) for k, v in load_tensors(base / "model.safetensors").items())
    a = load_tensors(out / "adapter" / "adapter_model.safetensors")
    b = load_tensors(tmp_path / "killed" / "adapter" / "adapter_model.safetensors")
    assert a and all("lora_" in k for k in a)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    assert all(k in rows[0] for k in ("reward_mean", "reward_std", "loss", "grad_norm", "val_reward_base"))
    assert (out / "best" / "adapter_model.safetensors").exists()


def test_adapter_steps_gate_the_adapter_and_the_gradient_reaches_it_through_the_base(tiny_runs, tmp_path):
    _, base, _ = tiny_runs
    with pytest.raises(ValueError, match="adapter_steps"):
        make_draft(tiny_runs, tmp_path / "bad", adapter_steps=11, steps=10)
    trainer = make_draft(tiny_runs, tmp_path / "g", lr=1e-2, adapter_steps=2, iterations=2)
    gate = int(trainer.sampler.timesteps[1])
    assert trainer.pipe.adapter_min_timestep == gate > int(trainer.sampler.timesteps[2])
    trainer.loss(trainer.draw_prompts(0), torch.Generator().manual_seed(1))[0].backward()
    # LoRA's B starts at zero, so only the B matrices have a gradient at first; the later steps are the base's alone
    grads = {n: p.grad for n, p in trainer.policy.named_parameters() if p.requires_grad}
    assert all(g is not None for g in grads.values())
    assert all(g.abs().sum() > 0 for n, g in grads.items() if "lora_B" in n)
    trainer.opt.zero_grad(set_to_none=True)
    out = trainer.run()
    tuned, plain = MotionPipeline.from_run(base, adapter=out / "adapter"), MotionPipeline.from_run(base)
    assert tuned.adapter_min_timestep == gate
    prompts = trainer.draw_prompts(0)[:2]
    mask = torch.ones(2, 40, dtype=torch.bool)
    x = torch.randn(2, 40, plain.normalizer.mean.shape[0], generator=torch.Generator().manual_seed(3))
    assert_adapter_gated(tuned, plain, x, plain.encode([p.text for p in prompts]), plain.step_mask(mask), gate)


def test_bad_settings_fail_before_work(tiny_runs, tmp_path):
    data, base, reward_run = tiny_runs
    assert isinstance(method_config("draft", "tiny"), DRaFTConfig) and trainer_class(DRaFTConfig()) is DRaFTTrainer
    with pytest.raises(ValueError, match="grad_steps"):
        make_draft(tiny_runs, tmp_path / "g", grad_steps=0)
    prompts = [Prompt("a person walks", 40)]

    class UserScore:  # a reward term with no differentiable form
        name = "user_score"

        def __call__(self, motions, texts):
            return torch.zeros(len(motions)), {}

    with_user_term = WeightedSum([(RetrievalReward.from_run(reward_run), 1.0), (UserScore(), 0.5)])
    with pytest.raises(ValueError, match="user_score"):
        DRaFTTrainer(MotionPipeline.from_run(base), with_user_term, prompts, DRaFTConfig(), tmp_path / "p", base)
    command = ["finetune", "--method", "draft", "--model", str(base), "--reward", str(reward_run), "--data",
               str(data), "--preset", "tiny"]
    result = runner.invoke(app, [*command, "--out", str(tmp_path / "o"), "--set", "grad_steps=0"])
    assert result.exit_code == 2 and "grad_steps" in " ".join(result.output.split())
    assert not (tmp_path / "o" / "log.jsonl").exists()
    # the physics penalties have a gradient now: they compose with the retrieval reward, each logged
    done = runner.invoke(app, [*command, "--out", str(tmp_path / "ok"), "--set", "iterations=1", "--foot-skating",
                               "0.5", "--jitter", "0.001"])
    assert done.exit_code == 0, done.output
    assert json.loads((tmp_path / "ok" / "config.json").read_text())["draft"]["iterations"] == 1
    row = json.loads((tmp_path / "ok" / "log.jsonl").read_text().splitlines()[0])
    assert row["reward/foot_skating"] <= 0 and row["reward/jitter"] < 0 and "reward/tmr" in row


@pytest.fixture(scope="module")
def second_reward(tiny_runs, tmp_path_factory):
    from nomocap.retrieval.train import EmbeddingTrainConfig, train_embedding_model

    data = tiny_runs[0]
    out = tmp_path_factory.mktemp("reward2") / "reward_b"
    train_embedding_model(data, out, EmbeddingTrainConfig.from_preset("retrieval", "tiny", steps=20, seed=1,
                                                                     text_encoder="hash"))
    return out


def test_validation_scored_by_another_reward_model(tiny_runs, second_reward, tmp_path):
    trainer = make_draft(tiny_runs, tmp_path / "v")
    other = RetrievalReward.from_run(second_reward)
    texts, lengths = [p.text for p in trainer.val], [p.frames for p in trainer.val]

    def mean_score(reward) -> float:  # the validation's own sampling, re-done by hand
        samples = trainer.pipe.sample(texts, lengths, trainer.sampler, trainer.cfg.guidance,
                                      torch.Generator().manual_seed(trainer.cfg.seed * 1_000_003 + 99))
        return float(reward(MotionBatch(trainer.pipe.to_features(samples), trainer.pipe.representation), texts)[0]
                     .mean())

    assert trainer.validate() == pytest.approx(mean_score(trainer.reward), abs=1e-6)
    trainer.val_reward = other
    assert trainer.validate() == pytest.approx(mean_score(other), abs=1e-6)
    assert abs(mean_score(other) - mean_score(trainer.reward)) > 1e-4  # two models, two scores


def test_cli_ensemble_reward_and_validation_reward(tiny_runs, second_reward, tmp_path):
    data, base, reward_run = tiny_runs
    common = ["finetune", "--method", "draft", "--model", str(base), "--data", str(data), "--preset", "tiny",
              "--set", "iterations=2", "--set", "eval_every=1"]
    done = runner.invoke(app, [*common, "--reward", str(reward_run), "--reward", str(second_reward),
                               "--val-reward", str(second_reward), "--out", str(tmp_path / "e")])
    assert done.exit_code == 0, done.output
    config = json.loads((tmp_path / "e" / "config.json").read_text())
    assert config["reward_run"] == [str(reward_run.resolve()), str(second_reward.resolve())]
    assert config["val_reward_run"] == str(second_reward.resolve())
    rows = [json.loads(line) for line in (tmp_path / "e" / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2] and all("val_reward" in r for r in rows)
    # The ensemble's reward is the mean of the two models' (DDPO logs each term beside the total).
    ddpo = runner.invoke(app, ["finetune", "--model", str(base), "--data", str(data), "--preset", "tiny",
                               "--iterations", "1", "--reward", str(reward_run), "--reward", str(second_reward),
                               "--out", str(tmp_path / "d")])
    assert ddpo.exit_code == 0, ddpo.output
    row = json.loads((tmp_path / "d" / "log.jsonl").read_text().splitlines()[0])
    terms = (row[f"reward/tmr1:{reward_run.name}"], row[f"reward/tmr2:{second_reward.name}"])
    assert terms[0] != terms[1] and row["reward_mean"] == pytest.approx(sum(terms) / 2, abs=1e-6)
    wrong = runner.invoke(app, [*common, "--reward", str(reward_run), "--val-reward", str(base),
                                "--out", str(tmp_path / "w")])
    assert wrong.exit_code == 2 and not (tmp_path / "w" / "log.jsonl").exists()
