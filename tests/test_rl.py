"""DDPO: importance ratio 1 before any update, PPO/KL/advantage arithmetic, LoRA-only training, resume."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import assert_adapter_gated
from typer.testing import CliRunner

from nomocap.checkpoint import CheckpointError, load_tensors
from nomocap.cli import app, parse_settings
from nomocap.data.prompts import Prompt, load_prompts
from nomocap.experiments.common import SHIPPED
from nomocap.pipeline import MotionPipeline
from nomocap.rewards import MotionBatch, WeightedSum
from nomocap.rewards.physics import FootSkating
from nomocap.rewards.retrieval import RetrievalReward
from nomocap.rl.advantages import PerPromptStatTracker
from nomocap.rl.ddpo import DDPOConfig, DDPOTrainer
from nomocap.rl.noise import grouped_noise
from nomocap.rl.ppo import clipped_surrogate, gaussian_kl
from nomocap.rl.validation import spread_prompts

runner = CliRunner()


@pytest.fixture
def setup(tiny_runs):
    return tiny_runs


def make_trainer(setup, out, **overrides):
    data, base, reward_run = setup
    cfg = DDPOConfig.from_preset("tiny", **overrides)
    pipe = MotionPipeline.from_run(base)
    prompts = [Prompt(p.text, 40) for p in load_prompts(data, "train")]
    out.mkdir(parents=True, exist_ok=True)
    return DDPOTrainer(pipe, RetrievalReward.from_run(reward_run), prompts, cfg, out, base, replay=prompts[:5],
                       val_prompts=prompts[:4])


@pytest.mark.parametrize("sampler, antithetic, frequencies", [("ddim", False, 0), ("sde-dpm++", False, 0),
                                                               ("sde-dpm++", True, 0), ("sde-dpm++", False, 3)])
def test_importance_ratio_is_one_before_the_first_update(setup, tmp_path, sampler, antithetic, frequencies):
    trainer = make_trainer(setup, tmp_path / sampler, sampler=sampler, guidance=2.5, antithetic=antithetic,
                           score_frequencies=frequencies)
    rollouts, _ = trainer.sample(trainer.draw_prompts(0), trainer._generator(0))
    idx = torch.arange(len(rollouts.prompts))
    with torch.no_grad():
        for step, trainable in enumerate(rollouts.trainable):
            if trainable:
                log_prob, _ = trainer._log_prob(rollouts, idx, step, with_base=False)
                assert (log_prob - rollouts.log_probs[step]).abs().max() < 1e-5, step
    assert rollouts.trainable[-1] is False


def test_grouped_noise_pairs_the_trained_steps_and_shares_the_rest():
    noise = grouped_noise(8, 4, trained_steps=[0, 1], generator=torch.Generator().manual_seed(0))
    start, trained, late = noise(-1, torch.Size([8, 5, 3])), noise(1, torch.Size([8, 5, 3])), noise(4, (8, 5, 3))
    for g in (slice(0, 4), slice(4, 8)):
        assert all(torch.equal(x[g][0], x[g][k]) for x in (start, late) for k in range(4))
        torch.testing.assert_close(trained[g][1], -trained[g][0])
        torch.testing.assert_close(trained[g][3], -trained[g][2])
        assert not torch.allclose(trained[g][0], trained[g][2])
    assert not torch.equal(start[0], start[4])  # groups are independent
    # Each copy is marginally standard normal (moments over many draws).
    draws = torch.cat([noise(0, (8, 1000, 3)) for _ in range(5)])
    assert abs(float(draws.mean())) < 0.01 and abs(float(draws.std()) - 1) < 0.01
    with pytest.raises(ValueError, match="groups of 4"):
        grouped_noise(6, 4, [0])


def test_antithetic_rollouts_differ_only_by_the_trained_steps(setup, tmp_path):
    trainer = make_trainer(setup, tmp_path, antithetic=True, first_steps=2, copies=4)
    r, _ = trainer.sample(trainer.draw_prompts(0), trainer._generator(0))
    start, after_two = r.latents[0], r.latents[2] - r.latents[2].mean(0, keepdim=True)
    assert torch.equal(start[0], start[3]) and not torch.equal(start[0], start[4])  # one start per prompt
    assert float(after_two[:4].abs().max()) > 0  # the trained steps' +/- pairs made the copies differ


def test_ppo_loss_against_hand_computation():
    new, old = torch.tensor([0.0, 0.5, -0.5]), torch.tensor([0.0, 0.0, 0.0])
    adv = torch.tensor([1.0, 2.0, -1.0])
    loss, info = clipped_surrogate(new, old, adv, clip_range=0.2)
    r = np.exp([0.0, 0.5, -0.5])
    expected = np.mean([max(-1 * r[0], -1 * r[0]), max(-2 * r[1], -2 * 1.2), max(1 * r[2], 1 * 0.8)])
    assert float(loss) == pytest.approx(expected)
    assert float(info["clipfrac"]) == pytest.approx(2 / 3)
    assert float(info["approx_kl"]) == pytest.approx(0.5 * np.mean([0, 0.25, 0.25]))


def test_gaussian_kl_against_torch_distributions():
    p, q, std = torch.randn(2, 5, 3), torch.randn(2, 5, 3), torch.tensor(0.7)
    normal = torch.distributions.Normal
    reference = torch.distributions.kl_divergence(normal(p, std), normal(q, std))
    torch.testing.assert_close(gaussian_kl(p, q, std), reference.flatten(1).mean(1))


def test_advantages_per_prompt_with_batch_fallback():
    tracker = PerPromptStatTracker(buffer_size=16, min_count=3, clip=5.0)
    adv = tracker.update(["a", "a", "a", "b"], np.array([1.0, 2.0, 3.0, 10.0]))
    np.testing.assert_allclose(adv[:3], (np.array([1, 2, 3]) - 2) / (np.std([1, 2, 3]) + 1e-6))
    batch = np.array([1.0, 2.0, 3.0, 10.0])
    assert adv[3] == pytest.approx((10 - batch.mean()) / (batch.std() + 1e-6))  # "b" seen once: batch stats
    assert np.abs(tracker.update(["c", "c", "c", "d"], np.array([0.0, 0.0, 1e6, 0.0]))).max() <= 5.0
    adv = tracker.update(["a", "x"], np.array([np.nan, 1.0]))
    assert adv[0] == 0.0 and np.isfinite(adv).all()


def test_only_lora_trains_and_the_base_is_untouched(setup, tmp_path):
    _, base, _ = setup
    before = load_tensors(base / "model.safetensors")
    trainer = make_trainer(setup, tmp_path / "ft", clip_range=0.2, lr=1e-2, iterations=2)
    frozen = {k: v.clone() for k, v in trainer.policy.state_dict().items() if "lora_" not in k}
    trainer.run()
    after = trainer.policy.state_dict()
    assert all(torch.equal(frozen[k], after[k]) for k in frozen)
    lora_b = [v for k, v in after.items() if "lora_B" in k]
    assert any(v.abs().max() > 0 for v in lora_b)  # adapters moved away from their zero init
    again = load_tensors(base / "model.safetensors")
    assert all(torch.equal(before[k], again[k]) for k in before)
    rows = [line for line in (tmp_path / "ft" / "log.jsonl").read_text().splitlines() if line]
    assert len(rows) == 2 and all(k in rows[0] for k in ("reward_mean", "reward_std", "approx_kl", "clipfrac"))
    assert (tmp_path / "ft" / "adapter" / "adapter_model.safetensors").exists()


def test_gated_adapter_acts_only_at_the_trained_noise_levels(setup, tmp_path):
    _, base, _ = setup
    trainer = make_trainer(setup, tmp_path / "ft", gate_adapter=True, first_steps=2, lr=1e-2, iterations=2)
    trainer.run()
    gate = int(trainer.sampler.timesteps[1])
    tuned, plain = MotionPipeline.from_run(base, adapter=tmp_path / "ft" / "adapter"), MotionPipeline.from_run(base)
    assert tuned.adapter_min_timestep == gate
    g = torch.Generator().manual_seed(0)
    x, cond, mask = torch.randn(2, 40, 263, generator=g), plain.encode(["a person walks", "a person jumps"]), \
        torch.ones(2, 40, dtype=torch.bool)
    assert_adapter_gated(tuned, plain, x, cond, mask, gate)
    with torch.no_grad(), pytest.raises(ValueError, match="both sides"):
        tuned.predict_x0(x, torch.tensor([gate, gate - 1]), cond, mask, 2.5)


def test_an_adapter_of_another_base_is_refused(setup, tmp_path):
    _, base, _ = setup
    make_trainer(setup, tmp_path / "ft", iterations=1).run()
    marker = tmp_path / "ft" / "adapter" / "base_model.json"
    meta = json.loads(marker.read_text())
    MotionPipeline.from_run(base, adapter=tmp_path / "ft" / "adapter")  # its own base: accepted
    marker.write_text(json.dumps({**meta, "fingerprint": "0" * 16}))  # as if made on another base model
    with pytest.raises(CheckpointError, match="another base model"):
        MotionPipeline.from_run(base, adapter=tmp_path / "ft" / "adapter")


def test_resume_after_kill_reproduces_the_adapter(setup, tmp_path):
    make_trainer(setup, tmp_path / "straight", iterations=3, clip_range=0.2, lr=1e-2).run()
    make_trainer(setup, tmp_path / "killed", iterations=3, clip_range=0.2, lr=1e-2).run(stop_after=1)
    make_trainer(setup, tmp_path / "killed", iterations=3, clip_range=0.2, lr=1e-2).run(resume=True)
    a = load_tensors(tmp_path / "straight" / "adapter" / "adapter_model.safetensors")
    b = load_tensors(tmp_path / "killed" / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_base_competes_for_the_best_adapter(setup, tmp_path):
    # lr = 0: no update can beat the base on validation, so "best" stays the zero adapter
    out = make_trainer(setup, tmp_path / "ft", lr=0.0, iterations=2, eval_every=1).run()
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert math.isfinite(rows[0]["val_reward_base"])
    assert all(r["val_reward"] == rows[0]["val_reward_base"] and "best" not in r for r in rows)
    best = load_tensors(out / "best" / "adapter_model.safetensors")
    assert any("lora_B" in k for k in best) and all(v.abs().max() == 0 for k, v in best.items() if "lora_B" in k)


def test_lr_anneal_is_a_cosine_to_zero_over_the_run(setup, tmp_path):
    out = make_trainer(setup, tmp_path / "ft", lr=1e-3, lr_anneal=True, iterations=2, eval_every=0).run()
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in rows] == pytest.approx([1e-3, 0.5e-3])  # 0.5 * (1 + cos(pi * i / 2))
    trainer = make_trainer(setup, tmp_path / "other", lr=1e-3, lr_anneal=True, iterations=60)
    assert trainer.lr_at(60) == pytest.approx(0.0, abs=1e-12)
    assert trainer.lr_at(15) == pytest.approx(0.5e-3 * (1 + 0.5**0.5))
    assert make_trainer(setup, tmp_path / "flat", lr=1e-3).lr_at(30) == 1e-3


def test_nan_motion_is_an_invalid_reward_not_a_crash(setup):
    _, base, reward_run = setup
    pipe = MotionPipeline.from_run(base)
    good = np.zeros((40, 263), np.float32)
    bad = good.copy()
    bad[3, 5] = np.nan
    reward = WeightedSum([(RetrievalReward.from_run(reward_run), 1.0), (FootSkating(), 0.1)])
    scores, info = reward(MotionBatch([good, bad], pipe.representation), ["a person walks", "a person walks"])
    assert torch.isfinite(scores[0]) and torch.isnan(scores[1]) and info["invalid"] == 1.0


def test_contrastive_reward_prefers_the_own_prompt(setup):
    _, base, reward_run = setup
    pipe = MotionPipeline.from_run(base)
    reward = RetrievalReward.from_run(reward_run, contrastive=True)
    feats = [np.load(p) for p in sorted((setup[0] / "new_joint_vecs").glob("00000*.npy"))[:3]]
    scores, _ = reward(MotionBatch(feats, pipe.representation), ["walk", "jump", "walk"])
    plain = RetrievalReward.from_run(reward_run)(MotionBatch(feats, pipe.representation), ["walk", "jump", "walk"])[0]
    assert not torch.allclose(scores, plain) and math.isfinite(float(scores.sum()))


def test_twin_reward_is_the_plain_reward_minus_the_swapped_prompts(setup):
    _, base, reward_run = setup
    motions = MotionBatch([np.load(p) for p in sorted((setup[0] / "new_joint_vecs").glob("00000*.npy"))[:3]],
                          MotionPipeline.from_run(base).representation)
    prompts = ["a person raises the left arm", "a person jumps", "someone walks backward clockwise"]
    twins = ["a person raises the right arm", "a person jumps", "someone walks forward counterclockwise"]
    plain = RetrievalReward.from_run(reward_run)
    own, swapped = plain(motions, prompts)[0], plain(motions, twins)[0]
    expected = own - swapped * torch.tensor([1.0, 0.0, 1.0])  # "jumps" has no twin: its reward is kept
    twin = RetrievalReward.from_run(reward_run, twin=True)
    torch.testing.assert_close(twin(motions, prompts)[0], expected)
    both = RetrievalReward.from_run(reward_run, contrastive=True, twin=True)
    contrastive = RetrievalReward.from_run(reward_run, contrastive=True)(motions, prompts)[0]
    torch.testing.assert_close(both(motions, prompts)[0], contrastive - (own - expected))
    assert (twin.name, both.name) == ("tmr_twin", "tmr_contrastive_twin")


@pytest.mark.parametrize("args, needle", [
    (["--prompts", "EMPTY"], "no prompts"),
    (["--data", "DATA", "--category", "dancing"], "unknown category"),
    (["--reward", "BASE"], "expected a 'retrieval' run"),
    (["--set", "antithetic"], "expected KEY=VALUE"),
    (["--set", "clip=0.1"], "unknown fine-tuning setting"),
    (["--device", "mps"], "only cpu and cuda"),
    pytest.param(["--device", "cuda"], "no CUDA GPU is visible",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible here")),
])
def test_finetune_bad_input_fails_before_work(setup, tmp_path, args, needle):
    data, base, reward_run = setup
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    subst = {"EMPTY": str(tmp_path / "empty.txt"), "DATA": str(data), "BASE": str(base)}
    args = [subst.get(a, a) for a in args]
    base_args = ["finetune", "--model", str(base), "--out", str(tmp_path / "o"), "--preset", "tiny"]
    if "--reward" not in args:
        base_args += ["--reward", str(reward_run)]
    if not any(a in args for a in ("--data", "--prompts")):
        base_args += ["--data", str(data)]
    result = runner.invoke(app, base_args + args)
    assert result.exit_code == 2 and needle in " ".join(result.output.split()), result.output
    assert not (tmp_path / "o" / "log.jsonl").exists()


def test_set_overrides_reach_the_config():
    settings = parse_settings(["antithetic=true", "lr=0.002", "sampler=ddim", "first_steps = 3"])
    assert settings == {"antithetic": True, "lr": 0.002, "sampler": "ddim", "first_steps": 3}
    cfg = DDPOConfig.from_preset("tiny", **settings)
    assert cfg.antithetic is True and cfg.lr == 0.002 and cfg.sampler == "ddim" and cfg.first_steps == 3


def test_a_presets_arch_table_applies_to_that_architecture_only():
    from nomocap.experiments.common import ExperimentConfig
    from nomocap.rl import method_config

    mdm, mld = method_config("ddpo", "small", "mdm"), method_config("ddpo", "small", "mld")
    assert (mdm.first_steps, mdm.lr) == (1, 0.002)  # [finetune]
    assert (mld.first_steps, mld.lr) == (0, 0.0005)  # [finetune_mld] over it
    assert mld.prompts_per_iteration == mdm.prompts_per_iteration  # the rest from [finetune]
    assert method_config("ddpo", "small", "mld", lr=0.001).lr == 0.001  # an override still wins
    draft_mdm, draft_mld = method_config("draft", "small", "mdm"), method_config("draft", "small", "mld")
    assert (draft_mdm.iterations, draft_mld.iterations) == (60, 240)  # [draft_mld] over [draft]
    assert draft_mld.lr == draft_mdm.lr
    assert ExperimentConfig(arch="mld").finetune_config(seed=2).first_steps == 0
    with pytest.raises(ValueError, match="'arch' is not a fine-tuning setting"):
        method_config("ddpo", "small", "mdm", **{"arch": "mld"})  # what --set arch=mld gives


def _finetune_rows(setup, out, launcher: list[str]) -> list[dict]:
    data, base, reward_run = setup
    cmd = launcher + ["-m", "nomocap", "finetune", "--model", str(base), "--reward", str(reward_run), "--data",
                      str(data), "--preset", "tiny", "--iterations", "2", "--out", str(out), "--seed", "3"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_two_process_launch_matches_single_process_rewards(setup, tmp_path):
    """torchrun, 2 gloo processes: rollouts split, rewards gathered, adapters kept in sync (checked every step)."""
    one = _finetune_rows(setup, tmp_path / "one", [sys.executable])
    two = _finetune_rows(setup, tmp_path / "two", [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                                                   "2"])
    assert len(one) == len(two) == 2 and two[0]["processes"] == 2 and one[0]["processes"] == 1
    # Iteration 1 samples the untouched base on the same prompts: only the noise differs.
    n = 16  # tiny preset: 4 prompts x 4 copies
    noise = math.sqrt(one[0]["reward_std"] ** 2 / n + two[0]["reward_std"] ** 2 / n)
    assert abs(one[0]["reward_mean"] - two[0]["reward_mean"]) < 4 * noise + 1e-6
    assert (tmp_path / "two" / "adapter" / "adapter_model.safetensors").exists()
    assert math.isfinite(two[1]["loss"]) and two[1]["skipped_batches"] == 0


class RootHeight:
    """A reward any policy can climb: the mean root height of the motion (de-normalised feature 3)."""

    name = "root_height"

    def __call__(self, motions, prompts):
        return torch.tensor([float(np.mean(f[:, 3])) for f in motions.guo_features]), {}


def test_rl_climbs_a_simple_reward_on_the_shipped_base(tmp_path):
    """Paired with an lr=0 run (same prompts, same noise), fine-tuning the early steps raises the reward."""
    base = SHIPPED / "base_small_mdm_guo"
    prompts = [Prompt(t, 60) for t in ("a person walks forward", "someone jumps", "a man squats down",
                                       "a person waves the right hand", "a person sits down", "someone runs")]

    def rewards(lr: float) -> np.ndarray:
        cfg = DDPOConfig.from_preset("small", iterations=8, prompts_per_iteration=6, copies=4, sample_batch=24,
                                     train_batch=24, first_steps=3, timestep_fraction=0.5, inner_epochs=2,
                                     clip_range=0.2, lr=lr, kl_coef=0.0, eval_every=0, seed=5)
        out = tmp_path / f"lr{lr}"
        out.mkdir()
        DDPOTrainer(MotionPipeline.from_run(base), RootHeight(), prompts, cfg, out, base).run()
        return np.array([json.loads(line)["reward_mean"] for line in (out / "log.jsonl").read_text().splitlines()])

    gain = rewards(3e-3) - rewards(0.0)
    assert gain[0] == pytest.approx(0.0, abs=1e-9)  # iteration 1 samples the untouched base in both runs
    assert (gain[2:] > 0).all() and gain[2:].mean() > 0.003, gain  # seed 5 measured: +0.004 ... +0.014


def test_best_of_n_keeps_each_prompts_highest_scoring_draw(setup):
    from nomocap.rewards.best_of_n import BestOfN

    _, base, reward_run = setup
    pipe, reward = MotionPipeline.from_run(base), RetrievalReward.from_run(reward_run)
    prompts, lengths, n = ["a person walks forward", "someone waves the left hand"], [40, 32], 3
    ranked = BestOfN(pipe, reward, n).sample(prompts, lengths, pipe.sampler("ddim", 4), 2.5,
                                             torch.Generator().manual_seed(5))
    # Brute force: the same draws, each scored alone; the kept one is its prompt's maximum.
    drawn = pipe.sample([p for p in prompts for _ in range(n)], [t for t in lengths for _ in range(n)],
                        pipe.sampler("ddim", 4), 2.5, torch.Generator().manual_seed(5))
    candidates = pipe.to_features(drawn)
    kept = pipe.to_features(ranked)
    for i, prompt in enumerate(prompts):
        scores = [float(reward(MotionBatch([candidates[i * n + j]], pipe.representation), [prompt])[0][0])
                  for j in range(n)]
        best = candidates[i * n + int(np.argmax(scores))]
        np.testing.assert_allclose(kept[i], best, atol=1e-6)
        assert kept[i].shape[0] == lengths[i]
    plain = pipe.sample(prompts, lengths, pipe.sampler("ddim", 4), 2.5, torch.Generator().manual_seed(5))
    one = BestOfN(pipe, reward, 1).sample(prompts, lengths, pipe.sampler("ddim", 4), 2.5,
                                          torch.Generator().manual_seed(5))
    assert torch.equal(one.features, plain.features)  # n = 1 is plain sampling
    with pytest.raises(ValueError, match="n >= 1"):
        BestOfN(pipe, reward, 0)


def test_validation_prompts_are_distinct_and_spread_over_the_split(setup, tmp_path):
    texts = [f"action {i // 3} take {i % 3}" for i in range(30)]  # ten actions, three captions each, in order
    prompts = [Prompt(t, 40) for t in texts for _ in range(2)]  # every caption twice (a mirrored pair)
    picked = spread_prompts(prompts, 10)
    assert len({p.text for p in picked}) == 10
    assert {p.text.split(" take")[0] for p in picked} == {f"action {i}" for i in range(10)}  # every action
    assert [p.text for p in spread_prompts(prompts, 100)] == texts  # fewer than asked: all, once, in order
    trainer = make_trainer(setup, tmp_path / "ft", val_spread=True, val_prompts=3)
    assert len(trainer.val) == 3 and len({p.text for p in trainer.val}) == 3


def test_score_frequencies_needs_a_joint_space_model(setup, tmp_path):
    data, base, reward_run = setup
    pipe = MotionPipeline.from_run(base)
    pipe.model.frame_space = False  # what a latent model (mld) declares: its steps have no frames
    prompts = [Prompt(p.text, 40) for p in load_prompts(data, "train")]
    with pytest.raises(ValueError, match="joint-space model"):
        DDPOTrainer(pipe, RetrievalReward.from_run(reward_run), prompts,
                    DDPOConfig.from_preset("tiny", score_frequencies=4), tmp_path, base)
