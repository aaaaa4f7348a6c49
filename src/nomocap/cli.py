"""The ``nomocap`` command line: one sub-command per step of the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from nomocap.data.humanml import CorpusError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Post-train text-to-motion diffusion models with RL from text prompts only.")
data_app = typer.Typer(no_args_is_help=True, help="Create, validate and inspect motion corpora.")
app.add_typer(data_app, name="data")
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


SET_HELP = ("override a preset setting of the method ([finetune] for ddpo, [raft] for raft), KEY=VALUE "
            "(repeatable), e.g. --set antithetic=true")


def parse_settings(items: list[str] | None) -> dict:
    """``--set KEY=VALUE`` pairs; values are read as JSON (numbers, true/false), anything else as text."""
    settings = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. --set antithetic=true")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value
    return settings


@data_app.command("check")
def data_check(
    root: Path = typer.Argument(..., help="corpus folder (HumanML3D / KIT-ML layout)"),
    skeleton: str = typer.Option(None, help="t2m or kit; inferred from Mean.npy when omitted"),
    strict: bool = typer.Option(False, help="also fail on warnings (lengths the loader skips)"),
) -> None:
    """Validate a corpus and list every problem; exit 1 if there is any error.

    Example: nomocap data check data/h
    """
    from nomocap.data.check import check_corpus

    problems = check_corpus(root, skeleton)
    errors = [p for p in problems if p.severity == "error"]
    if problems:
        table = Table(title=f"problems in {root}")
        for col in ("severity", "file", "problem"):
            table.add_column(col, overflow="fold")
        for p in problems:
            table.add_row(p.severity, p.path, p.message)
        console.print(table)
    warnings = len(problems) - len(errors)
    console.print(f"{len(errors)} error(s), {warnings} warning(s) in {root}")
    if errors or (strict and warnings):
        raise typer.Exit(1)


@data_app.command("prompts")
def data_prompts(
    source: Path = typer.Argument(..., help="annotations.json (TMR format) or a corpus folder"),
) -> None:
    """Count the prompts per split of an annotations.json or a corpus.

    Example: nomocap data prompts ../shared/data/kitml_texts/annotations.json
    """
    from nomocap.data.prompts import prompts_by_split

    try:
        splits = prompts_by_split(source)
    except CorpusError as err:
        fail(str(err))
    table = Table(title=f"prompts in {source}")
    for col in ("split", "ids", "prompts", "distinct"):
        table.add_column(col, justify="right")
    for split, by_id in splits.items():
        texts = [t for ts in by_id.values() for t in ts]
        table.add_row(split, str(len(by_id)), str(len(texts)), str(len(set(texts))))
    console.print(table)


@data_app.command("synth")
def data_synth(
    out: Path = typer.Option(..., "--out", "-o", help="folder to write the corpus to"),
    domain: str = typer.Option("h", help="h (HumanML3D-like) or k (KIT-like)"),
    size: int = typer.Option(None, help="number of motions (mirrored twins are added); default h 4000, k 1200"),
    seed: int = typer.Option(0, help="random seed; the same seed gives the same bytes"),
    force: bool = typer.Option(False, help="replace a corpus already in --out"),
) -> None:
    """Generate the embedded motion-language corpus in the HumanML3D layout.

    Example: nomocap data synth --out data/h --domain h --size 4000 --seed 0
    """
    from rich.progress import Progress

    from nomocap.data.synth.corpus import synthesize
    from nomocap.data.synth.generate import DOMAINS

    if domain not in DOMAINS:
        fail(f"unknown --domain {domain!r}: choose h or k")
    if size is not None and size < 1:
        fail(f"--size must be at least 1, got {size}")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"synthesising domain {domain}", total=size or DOMAINS[domain].default_size)
        try:
            synthesize(out, domain, size, seed, force, on_progress=lambda i, n: progress.update(task, completed=i))
        except CorpusError as err:
            fail(str(err))
    console.print(f"wrote {out}")


@data_app.command("categories")
def data_categories(
    source: Path = typer.Argument(..., help="a corpus folder or an annotations.json"),
) -> None:
    """Count captions per leave-one-out class (object manipulation, posture & balance) and split.

    Example: nomocap data categories ../shared/data/kitml_texts/annotations.json
    """
    from nomocap.data.categories import CATEGORIES, caption_category
    from nomocap.data.prompts import prompts_by_split

    try:
        splits = prompts_by_split(source)
    except CorpusError as err:
        fail(str(err))
    table = Table(title=f"caption classes in {source}")
    table.add_column("split")
    for col in (*CATEGORIES, "other", "total"):
        table.add_column(col, justify="right")
    for split, by_id in splits.items():
        texts = [t for ts in by_id.values() for t in ts]
        counts = [sum(caption_category(t) == c for t in texts) for c in CATEGORIES]
        table.add_row(split, *map(str, counts), str(len(texts) - sum(counts)), str(len(texts)))
    console.print(table)


@data_app.command("reach")
def data_reach(
    root: Path = typer.Argument(..., help="an embedded corpus (needs meta/)"),
    category: str = typer.Option(..., help="object_manipulation or posture_balance"),
    split: str = typer.Option("test", help="split whose captions of the category are reported"),
    limit: int = typer.Option(20, help="rows to print"),
) -> None:
    """For each held-out caption, the primitives it needs and how often the rest of the training split has them.

    Example: nomocap data reach data/h --category posture_balance
    """
    from nomocap.data.synth.reach import reach_report

    try:
        rows, _ = reach_report(root, category, split)
    except (ValueError, CorpusError) as err:
        fail(str(err))
    table = Table(title=f"reach of {category} ({split} split) from the rest of the training split")
    table.add_column("caption", overflow="fold")
    table.add_column("primitive: training motions outside the category", overflow="fold")
    for row in rows[:limit]:
        table.add_row(row.caption, ", ".join(f"{p}: {n}" for p, n in row.primitives.items()))
    console.print(table)
    reachable = sum(r.reachable for r in rows)
    console.print(f"{reachable}/{len(rows)} captions have every primitive elsewhere in the training split")


@data_app.command("style-floor")
def data_style_floor(
    root: Path = typer.Argument(..., help="an embedded corpus (nomocap data synth), e.g. the target domain k"),
    evaluator: Path = typer.Option(..., help="an evaluator run trained on that domain"),
    style: str = typer.Option("h", help="the domain whose style the motions are rebuilt in (the source)"),
    split: str = typer.Option("test", help="split to rebuild"),
    seed: int = typer.Option(0, help="the --seed the corpus was made with"),
) -> None:
    """FID of the split's motions rebuilt in another domain's style: the part of a cross-domain FID that is style.

    Example: nomocap data style-floor data/k --evaluator assets/checkpoints/evaluator_small --style h
    """
    from nomocap.data.humanml import UNIT_LENGTH, crop_to_units
    from nomocap.data.synth.restyle import restyled_split
    from nomocap.eval.metrics import frechet_distance, gaussian_stats
    from nomocap.eval.protocol import EvalSet
    from nomocap.retrieval.train import EmbeddingModel

    try:
        model = EmbeddingModel.load(evaluator, "evaluator")
        real = EvalSet(root, split, model)
        _, feats = restyled_split(root, style, split, seed)
    except (ValueError, CorpusError) as err:
        fail(str(err))
    feats = [crop_to_units(f) for f in feats if len(f) >= UNIT_LENGTH]
    fid = frechet_distance(*gaussian_stats(model.embed_motions(feats).numpy()), *real.real_stats)
    print(json.dumps({"fid_restyled": fid, "style": style, "motions": len(feats), "split": split}))


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


@app.command("pretrain")
def pretrain_cmd(
    data: Path = typer.Option(..., help="training corpus (HumanML3D / KIT-ML layout)"),
    out: Path = typer.Option(..., "--out", "-o", help="run folder to write"),
    arch: str = typer.Option("mdm", help="mdm (joint-space transformer) or mld (motion VAE + latent denoiser)"),
    repr: str = typer.Option("guo", "--repr", help="guo (HumanML3D features) or rot (root + 6D joint rotations)"),
    preset: str = typer.Option("small", help="tiny (tests), small (CPU demo) or paper (GPU)"),
    steps: int = typer.Option(None, help="override the preset's number of steps"),
    exclude_category: str = typer.Option(None, help="leave a class out: object_manipulation or posture_balance"),
    text_encoder: str = typer.Option(None, help="minilm (default), hash, or a sentence-transformers folder"),
    resume: bool = typer.Option(False, help="continue the run in --out from its last checkpoint"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """Pretrain a text-to-motion denoiser.

    Example: nomocap pretrain --data data/h --arch mdm --preset small --out runs/base_h
    """
    from nomocap.checkpoint import CheckpointError
    from nomocap.pretrain import PretrainConfig, pretrain

    if arch == "mld" and repr != "guo":
        fail("the latent model (mld) works on guo features; use --repr guo")
    try:
        cfg = PretrainConfig.from_preset(preset, arch=arch, repr=repr, steps=steps, exclude_category=exclude_category,
                                         text_encoder=text_encoder, seed=seed)
        pretrain(data, out, cfg, resume=resume, console=console)
    except (ValueError, CorpusError, CheckpointError, FileNotFoundError) as err:
        fail(str(err))
    console.print(f"wrote {out}")


@app.command("generate")
def generate(
    prompts: list[str] = typer.Argument(..., help="one or more text prompts"),
    model: Path = typer.Option(..., help="pretraining run folder"),
    out: Path = typer.Option(..., "--out", "-o", help="x.npy (joints; features with --features), x.gif, x.mp4, x.bvh"),
    adapter: Path = typer.Option(None, help="LoRA adapter folder from finetune (e.g. RUN/best)"),
    length: float = typer.Option(None, help="seconds (default 6 s); at most 9.8 s"),
    sampler: str = typer.Option("dpm++", help="dpm++ (2M), sde-dpm++, ddim or ddpm"),
    steps: int = typer.Option(10, help="denoising steps"),
    guidance: float = typer.Option(2.5, help="classifier-free guidance scale"),
    num_samples: int = typer.Option(1, help="samples per prompt"),
    features: bool = typer.Option(False, help="write 263-d features instead of joints (.npy)"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """Generate motions from text.

    Example: nomocap generate --model runs/base_h "a person waves with the left hand" --out wave.gif
    """
    import torch

    from nomocap.checkpoint import CheckpointError
    from nomocap.pipeline import MotionPipeline, frames_for

    try:
        pipe = MotionPipeline.from_run(model, cache_dir=model / ".text_cache", adapter=adapter)
        frames = frames_for(length, pipe.fps)
        texts = [p for p in prompts for _ in range(num_samples)]
        samples = pipe.sample(texts, [frames] * len(texts), pipe.sampler(sampler, steps), guidance,
                              torch.Generator().manual_seed(seed))
    except (ValueError, CheckpointError) as err:
        fail(str(err))
    _write_motions(pipe, samples, texts, out, features)


def _write_motions(pipe, samples, texts: list[str], out: Path, as_features: bool) -> None:
    from nomocap.motion.bvh import write_bvh
    from nomocap.motion.render import render_grid

    suffix = out.suffix.lower()
    joints = pipe.to_joints(samples)
    paths = [out] if len(texts) == 1 or suffix in (".gif", ".mp4") else [
        out.with_name(f"{out.stem}_{i:02d}{out.suffix}") for i in range(len(texts))]
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        if as_features and pipe.representation.name != "guo":
            fail(f"--features writes HumanML3D features; this model works in {pipe.representation.name!r}")
        arrays = pipe.to_features(samples) if as_features else joints
        for path, arr in zip(paths, arrays):
            np.save(path, arr.astype(np.float32))
    elif suffix == ".bvh":
        for path, arr in zip(paths, joints):
            write_bvh(arr, path, pipe.skeleton)
    elif suffix in (".gif", ".mp4"):
        render_grid(joints, out, texts, skeleton=pipe.skeleton, columns=min(4, len(texts)))
    else:
        fail(f"unsupported output {out.name}: use .npy, .gif, .mp4 or .bvh")
    for path in paths:
        console.print(f"wrote {path}")


def _train_embedding(kind: str, data: Path, out: Path, preset: str, steps: int | None, resume: bool, seed: int | None,
                     text_encoder: str | None) -> None:
    from nomocap.checkpoint import CheckpointError
    from nomocap.retrieval.train import EmbeddingTrainConfig, train_embedding_model

    try:
        cfg = EmbeddingTrainConfig.from_preset(kind, preset, steps=steps, seed=seed, text_encoder=text_encoder)
        train_embedding_model(data, out, cfg, resume=resume, console=console)
    except (ValueError, CorpusError, CheckpointError) as err:
        fail(str(err))
    console.print(f"wrote {out}")


@app.command("train-retrieval")
def train_retrieval(
    data: Path = typer.Option(..., help="corpus to train on"),
    out: Path = typer.Option(..., "--out", "-o", help="run folder to write"),
    preset: str = typer.Option("small", help="tiny, small or paper"),
    steps: int = typer.Option(None, help="override the preset's number of steps"),
    text_encoder: str = typer.Option(None, help="minilm (default), hash, or a sentence-transformers folder"),
    resume: bool = typer.Option(False, help="continue the run in --out"),
    seed: int = typer.Option(None, help="random seed (preset default: 0)"),
) -> None:
    """Train the TMR-style retrieval model whose cosine similarity is the RL reward.

    Example: nomocap train-retrieval --data data/k --preset small --out runs/reward_k
    """
    _train_embedding("retrieval", data, out, preset, steps, resume, seed, text_encoder)


@app.command("train-evaluator")
def train_evaluator(
    data: Path = typer.Option(..., help="corpus to train on (the target corpus of the evaluation)"),
    out: Path = typer.Option(..., "--out", "-o", help="run folder to write"),
    preset: str = typer.Option("small", help="tiny, small or paper"),
    steps: int = typer.Option(None, help="override the preset's number of steps"),
    text_encoder: str = typer.Option(None, help="minilm (default), hash, or a sentence-transformers folder"),
    resume: bool = typer.Option(False, help="continue the run in --out"),
    seed: int = typer.Option(None, help="random seed (preset default: 1, unlike the reward's 0)"),
) -> None:
    """Train the T2M-style evaluator that grades generated motion (never the reward model).

    Example: nomocap train-evaluator --data data/k --preset small --out runs/evaluator_k
    """
    _train_embedding("evaluator", data, out, preset, steps, resume, seed, text_encoder)


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
    split: str = typer.Option("test", help="split"),
    limit: int = typer.Option(256, help="captions to judge (a seeded random subset)"),
    sampler: str = typer.Option("dpm++", help="sampler"),
    steps: int = typer.Option(10, help="denoising steps"),
    guidance: float = typer.Option(2.5, help="classifier-free guidance scale"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """Judge accuracy of a model's motions for a split's captions (the programmatic judge, no learned grader).

    Example: nomocap judge-model --model runs/base_h --data data/h --split test
    """

    from nomocap.checkpoint import CheckpointError
    from nomocap.eval.protocol import judge_accuracy
    from nomocap.pipeline import MotionPipeline

    try:
        pipe = MotionPipeline.from_run(model, adapter=adapter)
        result = judge_accuracy(pipe, data, split, limit, sampler, steps, guidance, seed)
    except (ValueError, CorpusError, CheckpointError) as err:
        fail(str(err))
    result.pop("verdicts")
    console.print_json(json.dumps(result))


@app.command("evaluate")
def evaluate_cmd(
    evaluator: Path = typer.Option(..., help="evaluator run folder (train-evaluator)"),
    data: Path = typer.Option(..., help="corpus whose split is evaluated"),
    model: Path = typer.Option(None, help="pretraining run; omitted: only the ground-truth row"),
    adapter: Path = typer.Option(None, help="LoRA adapter folder from finetune"),
    split: str = typer.Option("test", help="split to evaluate"),
    preset: str = typer.Option("small", help="protocol size: tiny, small or paper (20 replications)"),
    replications: int = typer.Option(None, help="override the preset's replications"),
    out: Path = typer.Option(None, "--out", "-o", help="folder for results.json and results.md"),
    best_of: int = typer.Option(1, help="best-of-n sampling: keep the draw of n that --reward scores highest"),
    reward: Path = typer.Option(None, help="retrieval run that ranks the draws of --best-of"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """R-precision, FID, MultiModal distance, Diversity, MultiModality (+ judge) with 95 % intervals.

    Example: nomocap evaluate --evaluator runs/evaluator_k --data data/k --model runs/base_h
    """
    from nomocap.checkpoint import CheckpointError
    from nomocap.eval.protocol import EvalSet, ProtocolConfig, evaluate, markdown_table, write_results
    from nomocap.pipeline import MotionPipeline
    from nomocap.retrieval.train import EmbeddingModel

    if best_of > 1 and reward is None:
        fail("--best-of needs --reward RUN (the retrieval model that ranks the draws)")
    try:
        ev = EmbeddingModel.load(evaluator, "evaluator")
        cfg = ProtocolConfig.from_preset(preset, replications=replications, seed=seed)
        eval_set = EvalSet(data, split, ev)
        rows = {"Ground truth": evaluate(ev, data, cfg, None, split, console, eval_set)}
        if model is not None:
            pipe = MotionPipeline.from_run(model, adapter=adapter)
            name = model.name + (f" + {adapter.name}" if adapter else "")
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


@app.command("finetune")
def finetune(
    model: Path = typer.Option(..., help="pretrained base run (never modified)"),
    reward: Path = typer.Option(..., help="retrieval run whose cosine similarity is the reward"),
    out: Path = typer.Option(..., "--out", "-o", help="folder for the adapter, logs and checkpoints"),
    data: Path = typer.Option(None, help="target corpus: its captions are the prompts (motions unused)"),
    prompts: Path = typer.Option(None, help="a text file of prompts, one per line"),
    annotations: Path = typer.Option(None, help="a TMR-style annotations.json (e.g. the real KIT-ML texts)"),
    category: str = typer.Option(None, help="only prompts of this class (object_manipulation, posture_balance)"),
    replay: Path = typer.Option(None, help="source corpus whose captions are replayed (keeps what the model knew)"),
    preset: str = typer.Option("small", help="tiny, small (CPU) or paper (GPU)"),
    method: str = typer.Option("ddpo", help="ddpo (RL, the paper's method) or raft (reward-ranked fine-tuning)"),
    iterations: int = typer.Option(None, help="override the preset's iterations (ddpo)"),
    contrastive: bool = typer.Option(False, help="reward = cos(prompt) minus the mean cos with the batch's others"),
    foot_skating: float = typer.Option(0.0, help="weight of the foot-skating penalty"),
    clip_range: float = typer.Option(None, help="override the PPO clip range (ddpo)"),
    lr: float = typer.Option(None, help="override the adapters' learning rate"),
    kl_coef: float = typer.Option(None, help="override the KL-to-base coefficient (ddpo)"),
    replay_fraction: float = typer.Option(None, help="override the fraction of replayed source prompts"),
    settings: list[str] = typer.Option(None, "--set", help=SET_HELP),
    resume: bool = typer.Option(False, help="continue the run in --out"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """RL post-training (DDPO + PPO clip) of LoRA adapters from text prompts only (--method raft: distil the
    model's own best-of-n samples instead, the comparison).

    Example: nomocap finetune --model runs/base_h --reward runs/reward_k --data data/k --out runs/ft_k
    """
    from nomocap.checkpoint import CheckpointError
    from nomocap.data.prompts import load_prompts
    from nomocap.pipeline import MotionPipeline
    from nomocap.rewards import WeightedSum
    from nomocap.rewards.physics import FootSkating
    from nomocap.rewards.retrieval import RetrievalReward
    from nomocap.rl import method_config, trainer_class
    from nomocap.rl.distributed import Distributed

    sources = [s for s in (data, prompts, annotations) if s is not None]
    if len(sources) != 1:
        fail("give exactly one prompt source: --data DIR, --prompts FILE or --annotations JSON")
    try:
        ddpo_only = dict(iterations=iterations, clip_range=clip_range, kl_coef=kl_coef)
        if method != "ddpo" and any(v is not None for v in ddpo_only.values()):
            raise ValueError(f"--iterations, --clip-range and --kl-coef are DDPO settings; {method} takes --set, "
                             f"e.g. --set rounds=3")
        named = dict(**ddpo_only, replay_fraction=replay_fraction, lr=lr, seed=seed)
        # An option left unset must not hide the same key given with --set.
        cfg = method_config(method, preset, **{**parse_settings(settings),
                                               **{k: v for k, v in named.items() if v is not None}})
        train_prompts = load_prompts(sources[0], "train", category)
        val_prompts = load_prompts(sources[0], "val", category) if sources[0].is_dir() or \
            sources[0].suffix == ".json" else []
        replay_prompts = load_prompts(replay, "train") if replay else []
        reward_fn = RetrievalReward.from_run(reward, contrastive, cache_dir=out / ".text_cache")
        terms = [(reward_fn, 1.0)] + ([(FootSkating(), foot_skating)] if foot_skating else [])
        dist = Distributed.from_env()
        if method != "ddpo" and dist.world > 1:
            raise ValueError(f"{method} runs in one process; launch it without accelerate/torchrun")
        pipe = MotionPipeline.from_run(model, device=str(dist.device), cache_dir=out / ".text_cache")
        out.mkdir(parents=True, exist_ok=True)
        more = {"dist": dist} if method == "ddpo" else {}
        trainer = trainer_class(cfg)(pipe, WeightedSum(terms), train_prompts, cfg, out, model, replay_prompts,
                                     val_prompts, console if dist.is_main else Console(quiet=True),
                                     {"reward_run": str(reward.resolve()), "prompts": str(sources[0])}, **more)
        try:
            trainer.run(resume=resume)
        finally:
            del trainer
            dist.close()
    except (ValueError, CorpusError, CheckpointError) as err:
        fail(str(err))
    if not dist.is_main:
        return
    console.print(f"wrote {out}/adapter (last) and {out}/best (best validation reward)")


@app.command("render")
def render(
    motion: Path = typer.Argument(..., help="a .npy of joints [T, J, 3] or features [T, D]"),
    out: Path = typer.Option(..., "--out", "-o", help="x.gif, x.mp4 or x.bvh"),
    caption: str = typer.Option("", help="text shown above the figure"),
    skeleton: str = typer.Option(None, help="t2m or kit; inferred from the array's shape when omitted"),
    stride: int = typer.Option(2, min=1, help="keep every n-th frame in GIF/MP4"),
    mean: Path = typer.Option(None, help="Mean.npy to de-normalise normalised features (with --std)"),
    std: Path = typer.Option(None, help="Std.npy to de-normalise normalised features"),
) -> None:
    """Render a motion file as a stick figure (GIF/MP4) or export it as BVH.

    Example: nomocap render data/h/new_joints/000001.npy --out walk.gif --caption "a person walks"
    """
    from nomocap.motion.features import Normalizer
    from nomocap.motion.io import load_joints
    from nomocap.motion.render import render_motion

    try:
        normalizer = Normalizer(np.load(mean), np.load(std)) if mean and std else None
        joints, sk = load_joints(motion, skeleton, normalizer)
    except (ValueError, OSError) as err:
        fail(f"{motion}: {err}")
    suffix = out.suffix.lower()
    try:
        if suffix == ".bvh":
            from nomocap.motion.bvh import write_bvh

            write_bvh(joints, out, sk)
        else:
            render_motion(joints, out, caption, sk, stride=stride)
    except (ValueError, RuntimeError) as err:
        fail(str(err))
    console.print(f"wrote {out}")


@app.command("experiment")
def experiment(
    name: str = typer.Argument(..., help="cross-dataset or leave-one-out"),
    out: Path = typer.Option(..., "--out", "-o", help="experiment folder (stages are reused when unchanged)"),
    preset: str = typer.Option("small", help="tiny, small or paper"),
    arch: str = typer.Option("mdm", help="mdm or mld"),
    repr: str = typer.Option("guo", "--repr", help="guo or rot"),
    seeds: str = typer.Option("0", help="comma-separated fine-tuning seeds, e.g. 0,1,2"),
    source: str = typer.Option("h", help="source domain (pretraining; leave-one-out's corpus)"),
    target: str = typer.Option("k", help="target domain (prompts, reward, evaluation)"),
    from_scratch: bool = typer.Option(False, help="ignore shipped checkpoints and train every model"),
    contrastive: bool = typer.Option(False, help="reward = cos(prompt) minus the mean cos with the batch's others"),
    categories: str = typer.Option(None, help="leave-one-out: comma-separated classes (default: both)"),
    best_of: int = typer.Option(0, help="cross-dataset: add the base's best-of-N row, ranked by the reward"),
    method: str = typer.Option("ddpo", help="ddpo (the paper's RL) or raft (reward-ranked fine-tuning)"),
    settings: list[str] = typer.Option(None, "--set", help=SET_HELP),
) -> None:
    """Run one of the paper's experiments end to end and write results.json, results.md and report.html.

    Example: nomocap experiment cross-dataset --preset tiny --arch mdm --out runs/xd --seeds 0
    """
    from nomocap.checkpoint import CheckpointError
    from nomocap.experiments import cross_dataset, leave_one_out
    from nomocap.rl import method_config

    if name not in ("cross-dataset", "leave-one-out"):
        fail(f"unknown experiment {name!r}: available: cross-dataset, leave-one-out")
    try:
        seed_list = [int(s) for s in seeds.split(",")]
        overrides = parse_settings(settings)
        method_config(method, preset, **overrides)  # an unknown setting fails here, before any stage runs
        if name == "cross-dataset":
            cfg = cross_dataset.CrossDatasetConfig(preset=preset, arch=arch, repr=repr, source=source, target=target,
                                                   seeds=seed_list, use_shipped=not from_scratch,
                                                   contrastive=contrastive, finetune=overrides, best_of=best_of,
                                                   method=method)
            cross_dataset.run(out, cfg, console)
        else:
            chosen = categories.split(",") if categories else list(leave_one_out.CATEGORIES)
            loo = leave_one_out.LeaveOneOutConfig(preset=preset, arch=arch, repr=repr, domain=source,
                                                  categories=chosen, seeds=seed_list, use_shipped=not from_scratch,
                                                  contrastive=contrastive, finetune=overrides, method=method)
            leave_one_out.run(out, loo, console)
    except (ValueError, CorpusError, CheckpointError) as err:
        fail(str(err))


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("demo_out"), help="where the demo writes everything"),
    seed: int = typer.Option(0, help="random seed of the fine-tuning"),
    preset: str = typer.Option("small", help="small (the demo) or tiny (a quick smoke run)"),
    from_scratch: bool = typer.Option(False, help="train every model instead of using the shipped checkpoints"),
) -> None:
    """The main job on the embedded default: cross-dataset RL post-training h -> k, evaluated and reported.

    Example: nomocap demo --out demo_out
    """
    from nomocap.experiments import cross_dataset

    # The forgetting table on the source (Table 3) costs three more evaluations; the demo keeps to its
    # 15 minutes and reports forgetting by the judge. `nomocap experiment cross-dataset` adds the table.
    cfg = cross_dataset.CrossDatasetConfig(preset=preset, seeds=[seed], use_shipped=not from_scratch,
                                           source_evaluator=False)
    cross_dataset.run(out, cfg, console)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
