"""Judging and evaluating: the programmatic judge, retrieval scores, the T2M protocol."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from nomocap.cli.common import (
    ADAPTER_SCALE,
    DEVICE,
    DEVICE_HELP,
    GUIDANCE,
    SAMPLER,
    SAMPLING_STEPS,
    SEED,
    app,
    console,
    fail,
    resolve_device,
)
from nomocap.data.humanml import CorpusError


@app.command("judge")
def judge(
    motion: Path = typer.Argument(..., help="joints [T, 22, 3] or features [T, 263] (.npy)"),
    caption: str = typer.Argument(..., help="the caption to check the motion against"),
    data: Path = typer.Option(None, help="corpus whose Mean/Std de-normalise normalised features"),
) -> None:
    """Check a motion against a caption from kinematics alone (the corpus grammar's attributes).

    Example: nomocap judge data/h/new_joints/000001.npy "a person waves with the left hand"
    """
    from nomocap.data.humanml import load_stats
    from nomocap.data.synth.judge import judge_motion
    from nomocap.motion.io import load_joints

    try:
        joints, sk = load_joints(motion, "t2m", load_stats(data) if data else None)
        verdict = judge_motion(joints, caption)
    except (ValueError, CorpusError, OSError) as err:
        fail(f"{motion}: {err}")
    if not verdict:
        fail(f"the caption {caption!r} asserts nothing the judge can check (not in the corpus grammar)")
    table = Table(title=caption)
    table.add_column("attribute")
    table.add_column("verdict")
    for key, ok in verdict.items():
        table.add_row(key, "[green]pass[/]" if ok else "[red]fail[/]")
    console.print(table)
    console.print(f"accuracy {sum(verdict.values()) / len(verdict):.2f} ({sum(verdict.values())}/{len(verdict)})")


@app.command("score-retrieval")
def score_retrieval(
    model: Path = typer.Option(..., help="retrieval run (train-retrieval)"),
    data: Path = typer.Option(..., help="corpus whose split is scored"),
    split: str = typer.Option("test", help="split"),
) -> None:
    """Recall@k and median rank (full split and batches of 32), and left/right separation of a retrieval model.

    Example: nomocap score-retrieval --model runs/reward_k --data data/k
    """

    from nomocap.checkpoint import CheckpointError
    from nomocap.retrieval.scores import mirror_separation, retrieval_scores
    from nomocap.retrieval.train import EmbeddingModel

    try:
        m = EmbeddingModel.load(model, "retrieval")
        result = {**retrieval_scores(m, data, split), "mirror_separation": mirror_separation(m, data, split)}
    except (ValueError, CorpusError, CheckpointError) as err:
        fail(str(err))
    console.print_json(json.dumps(result))


@app.command("judge-model")
def judge_model(
    model: Path = typer.Option(..., help="pretraining run"),
    data: Path = typer.Option(..., help="embedded corpus whose captions are generated and judged"),
    adapter: Path = typer.Option(None, help="LoRA adapter folder"),
    adapter_scale: float = ADAPTER_SCALE,
    split: str = typer.Option("test", help="split"),
    limit: int = typer.Option(256, help="captions to judge (a seeded random subset)"),
    sampler: str = SAMPLER,
    steps: int = SAMPLING_STEPS,
    guidance: float = GUIDANCE,
    seed: int = SEED,
) -> None:
    """Judge accuracy of a model's motions for a split's captions (the programmatic judge, no learned grader).

    Example: nomocap judge-model --model runs/base_h --data data/h --split test
    """

    from nomocap.checkpoint import CheckpointError
    from nomocap.eval.protocol import judge_accuracy
    from nomocap.pipeline import MotionPipeline

    try:
        pipe = MotionPipeline.from_run(model, adapter=adapter, adapter_scale=adapter_scale)
        result = judge_accuracy(pipe, data, split, limit, sampler, steps, guidance, seed)
    except (ValueError, CorpusError, CheckpointError) as err:
        fail(str(err))
    result.pop("verdicts")
    console.print_json(json.dumps(result))


@app.command("reach")
def reach(
    model: Path = typer.Option(..., help="pretraining run"),
    data: Path = typer.Option(..., help="embedded corpus (or its annotations.json) whose captions are judged"),
    category: str = typer.Option(None, help="only captions of this class (e.g. posture_balance)"),
    match: str = typer.Option(None, help="only captions matching this regular expression (case-insensitive)"),
    split: str = typer.Option("test", help="split"),
    adapter: Path = typer.Option(None, help="LoRA adapter folder"),
    adapter_scale: float = ADAPTER_SCALE,
    captions: int = typer.Option(16, help="distinct captions (a seeded subset in the split's order)"),
    samples: int = typer.Option(64, help="draws per caption"),
    sampler: str = SAMPLER,
    steps: int = SAMPLING_STEPS,
    guidance: float = GUIDANCE,
    out: Path = typer.Option(None, help="also write the result as JSON here"),
    device: str = DEVICE,
    seed: int = SEED,
) -> None:
    """Before fine-tuning: for how many captions does the model sample a passing motion at all (best of N)?

    RL re-weights what the model samples; captions with no passing draw are out of its reach.
    Example: nomocap reach --model runs/base_without --data data/h --category posture_balance
    """
    from nomocap.checkpoint import CheckpointError, atomic_write_text, load_config
    from nomocap.eval.reach import best_of_n, reach_pairs
    from nomocap.pipeline import MotionPipeline

    if samples < 1:
        fail(f"--samples must be at least 1, got {samples}")
    try:
        skeleton = load_config(model, kind="denoiser").get("skeleton", "t2m")
        pairs = reach_pairs(data, split, category, captions, seed, match, skeleton)
        pipe = MotionPipeline.from_run(model, resolve_device(device), adapter=adapter, adapter_scale=adapter_scale)
        result = best_of_n(pipe, pairs, samples, sampler, steps, guidance, seed, console)
    except (ValueError, CorpusError, CheckpointError) as err:
        fail(str(err))
    table = Table(title=f"reach of {model.name}: best of {samples}")
    table.add_column("caption")
    table.add_column("passing draws", justify="right")
    for (caption, _), count in zip(pairs, result["passes"]):
        table.add_row(caption, f"{'[red]' if count == 0 else ''}{count} of {samples}")
    console.print(table)
    reached = len(pairs) - len(result["unreached"])
    console.print(f"reach {reached} of {len(pairs)} captions ({result['reach']:.3f}); per-draw pass rate "
                  f"{result['sample_pass_rate']:.3f}")
    if reached < len(pairs):
        console.print(f"{len(pairs) - reached} captions have no passing draw in {samples}: RL re-weights what the "
                      "model samples, so fine-tuning is not expected to teach them (README, Table 2).")
    if out is not None:
        atomic_write_text(out, json.dumps(result, indent=2) + "\n")
        console.print(f"wrote {out}")


@app.command("evaluate")
def evaluate_cmd(
    evaluator: Path = typer.Option(..., help="evaluator run folder (train-evaluator)"),
    data: Path = typer.Option(..., help="corpus whose split is evaluated"),
    model: Path = typer.Option(None, help="pretraining run; omitted: only the ground-truth row"),
    adapter: Path = typer.Option(None, help="LoRA adapter folder from finetune"),
    adapter_scale: float = ADAPTER_SCALE,
    split: str = typer.Option("test", help="split to evaluate"),
    preset: str = typer.Option("small", help="protocol size: tiny, small or paper (20 replications)"),
    replications: int = typer.Option(None, help="override the preset's replications"),
    out: Path = typer.Option(None, "--out", "-o", help="folder for results.json and results.md"),
    best_of: int = typer.Option(1, help="best-of-n sampling: keep the draw of n that --reward scores highest"),
    reward: Path = typer.Option(None, help="retrieval run that ranks the draws of --best-of"),
    device: str = typer.Option("auto", help=DEVICE_HELP + " (the diffusion model; evaluator, reward on the CPU)"),
    guidance: float = typer.Option(None, help="classifier-free guidance scale (default: the preset's: 2.5; paper: "
                                   "5 for mdm)"),
    seed: int = SEED,
) -> None:
    """R-precision, FID, MultiModal distance, Diversity, MultiModality (+ judge) with 95 % intervals.

    Example: nomocap evaluate --evaluator runs/evaluator_k --data data/k --model runs/base_h
    """
    from nomocap.checkpoint import CheckpointError, load_config
    from nomocap.eval.protocol import EvalSet, ProtocolConfig, evaluate, markdown_table, write_results
    from nomocap.pipeline import MotionPipeline
    from nomocap.retrieval.train import EmbeddingModel

    if best_of > 1 and reward is None:
        fail("--best-of needs --reward RUN (the retrieval model that ranks the draws)")
    try:
        ev = EmbeddingModel.load(evaluator, "evaluator")
        arch = load_config(model, kind="denoiser").get("arch") if model is not None else None
        cfg = ProtocolConfig.from_preset(preset, arch, replications=replications, seed=seed, guidance=guidance)
        eval_set = EvalSet(data, split, ev)
        rows = {"Ground truth": evaluate(ev, data, cfg, None, split, console, eval_set)}
        if model is not None:
            pipe = MotionPipeline.from_run(model, resolve_device(device), adapter=adapter, adapter_scale=adapter_scale)
            name = model.name + (f" + {adapter.name}" if adapter else "") + (
                f" × {adapter_scale:g}" if adapter and adapter_scale != 1.0 else "")
            if best_of > 1:
                from nomocap.rewards.best_of_n import BestOfN
                from nomocap.rewards.retrieval import RetrievalReward

                pipe, name = BestOfN(pipe, RetrievalReward.from_run(reward), best_of), f"{name}, best of {best_of}"
            rows[name] = evaluate(ev, data, cfg, pipe, split, console, eval_set)
    except (ValueError, CorpusError, CheckpointError) as err:
        fail(str(err))
    console.print(markdown_table(rows))
    if out is not None:
        for path in write_results(rows, out):
            console.print(f"wrote {path}")
