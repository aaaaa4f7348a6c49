"""The judge logged during fine-tuning (`nomocap finetune --judge-prompts N`): the target's and the source's
held-out captions judged at every validation, without touching what the adapter learns."""

import json

import torch
from PIL import Image
from typer.testing import CliRunner

from nomocap.checkpoint import load_tensors
from nomocap.cli import app
from nomocap.data.prompts import Prompt, load_prompts
from nomocap.data.synth.judge import judge_motion
from nomocap.pipeline import MotionPipeline
from nomocap.rewards import WeightedSum
from nomocap.rewards.retrieval import RetrievalReward
from nomocap.rl.draft import DRaFTConfig, DRaFTTrainer

runner = CliRunner()


def draft(tiny_runs, out, judged: list[Prompt] | None) -> tuple[DRaFTTrainer, list[dict]]:
    data, base, reward_run = tiny_runs
    cfg = DRaFTConfig.from_preset("tiny", iterations=2, eval_every=1)
    prompts = [Prompt(p.text, 40) for p in load_prompts(data, "train")]
    out.mkdir(parents=True)
    trainer = DRaFTTrainer(MotionPipeline.from_run(base), WeightedSum([(RetrievalReward.from_run(reward_run), 1.0)]),
                           prompts, cfg, out, base, replay=prompts[:5], val_prompts=prompts[:4])
    trainer.judge_sets = {"target": judged} if judged else None
    trainer.run()
    return trainer, [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_the_judge_is_logged_at_every_validation_and_changes_nothing_else(tiny_runs, tmp_path):
    judged = [Prompt(p.text, 40) for p in load_prompts(tiny_runs[0], "val")][:4]
    trainer, rows = draft(tiny_runs, tmp_path / "judged", judged)
    _, plain_rows = draft(tiny_runs, tmp_path / "plain", None)
    assert all(0.0 <= row["judge_target"] <= 1.0 for row in rows) and "judge_target_base" in rows[0]
    assert [r["val_reward"] for r in rows] == [r["val_reward"] for r in plain_rows]
    assert "judge_target" not in plain_rows[0]
    for name in ("adapter", "best"):
        a, b = (load_tensors(f / name / "adapter_model.safetensors") for f in (tmp_path / "judged", tmp_path / "plain"))
        assert all(torch.equal(a[k], b[k]) for k in a)

    # The base's entry, recomputed by hand: the base (zero adapter) sampled from the validation's own noise, each
    # caption's attributes judged and pooled.
    base = MotionPipeline.from_run(tiny_runs[1])
    gen = torch.Generator().manual_seed(trainer.cfg.seed * 1_000_003 + 98)
    texts = [p.text for p in judged]
    joints = base.to_joints(base.sample(texts, [40] * len(texts), trainer.sampler, trainer.cfg.guidance, gen))
    verdicts = [ok for j, t in zip(joints, texts) for ok in judge_motion(j, t).values()]
    assert rows[0]["judge_target_base"] == sum(verdicts) / len(verdicts)


def test_finetune_judge_prompts_logs_target_and_source(tiny_runs, tmp_path):
    data, base, reward_run = tiny_runs
    out = tmp_path / "ft"
    result = runner.invoke(app, ["finetune", "--method", "draft", "--model", str(base), "--reward", str(reward_run),
                                 "--data", str(data), "--replay", str(data), "--preset", "tiny", "--out", str(out),
                                 "--set", "iterations=1", "--set", "eval_every=1", "--judge-prompts", "3"])
    assert result.exit_code == 0, result.output
    row = json.loads((out / "log.jsonl").read_text().splitlines()[0])
    assert {"judge_target", "judge_source", "judge_target_base", "judge_source_base"} <= row.keys()
    with Image.open(out / "curves.png") as png:  # the reward curves, and a panel for each judged side: 6 × 4 in
        assert png.format == "PNG" and png.size[0] == 6 * 4 * 90


def test_judge_prompts_without_held_out_captions_the_judge_reads_fail_before_work(tiny_runs, tmp_path):
    data, base, reward_run = tiny_runs
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a person walks forward\n")
    out = tmp_path / "ft"
    result = runner.invoke(app, ["finetune", "--method", "draft", "--model", str(base), "--reward", str(reward_run),
                                 "--prompts", str(prompts), "--preset", "tiny", "--out", str(out),
                                 "--judge-prompts", "3"])
    assert result.exit_code != 0 and "cannot read the target's held-out captions" in " ".join(result.output.split())
    assert not out.exists()
