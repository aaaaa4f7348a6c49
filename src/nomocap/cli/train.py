"""Training: pretraining, the reward model and evaluator, and RL fine-tuning of LoRA adapters."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from nomocap.cli.common import (
    ADAPTER_SCALE,
    CONTRASTIVE,
    DEVICE,
    DEVICE_HELP,
    METHOD,
    OUT_RUN,
    PRESET,
    PRESET_STEPS,
    RESUME,
    SEED,
    SETTINGS,
    TENSORBOARD,
    TENSORBOARD_HELP,
    TEXT_ENCODER,
    TWIN,
    app,
    console,
    fail,
    parse_settings,
    resolve_device,
)
from nomocap.data.humanml import CorpusError


@app.command("pretrain")
def pretrain_cmd(
    data: Path = typer.Option(..., help="training corpus (HumanML3D / KIT-ML layout)"),
    out: Path = OUT_RUN,
    arch: str = typer.Option("mdm", help="mdm (joint-space transformer) or mld (motion VAE + latent denoiser)"),
    repr: str = typer.Option("guo", "--repr", help="guo (HumanML3D features) or rot (root + 6D joint rotations)"),
    preset: str = typer.Option("small", help="tiny (tests), small (CPU demo) or paper (GPU)"),
    steps: int = PRESET_STEPS,
    exclude_category: str = typer.Option(None, help="leave a class out: object_manipulation or posture_balance"),
    text_encoder: str = TEXT_ENCODER,
    resume: bool = typer.Option(False, help="continue the run in --out from its last checkpoint"),
    device: str = DEVICE,
    tensorboard: bool = TENSORBOARD,
    seed: int = SEED,
) -> None:
    """Pretrain a text-to-motion denoiser.

    Example: nomocap pretrain --data data/h --arch mdm --preset small --out runs/base_h
    """
    from nomocap.checkpoint import CheckpointError
    from nomocap.pretrain import PretrainConfig, pretrain
    from nomocap.runlog import check_tensorboard

    if arch == "mld" and repr != "guo":
        fail("the latent model (mld) works on guo features; use --repr guo")
    try:
        cfg = PretrainConfig.from_preset(preset, arch=arch, repr=repr, steps=steps, exclude_category=exclude_category,
                                         text_encoder=text_encoder, seed=seed)
        if tensorboard:
            check_tensorboard()
        pretrain(data, out, cfg, resume=resume, console=console, device=resolve_device(device), tensorboard=tensorboard)
    except (ValueError, CorpusError, CheckpointError, FileNotFoundError) as err:
        fail(str(err))
    console.print(f"wrote {out}")


def _embedding_command(kind: str, name: str, data_help: str, seed_help: str, doc: str) -> None:
    """Register ``train-retrieval`` or ``train-evaluator``: one trainer, two roles, the same options."""

    def command(
        data: Path = typer.Option(..., help=data_help),
        out: Path = OUT_RUN,
        preset: str = PRESET,
        steps: int = PRESET_STEPS,
        text_encoder: str = TEXT_ENCODER,
        resume: bool = RESUME,
        device: str = DEVICE,
        tensorboard: bool = TENSORBOARD,
        seed: int = typer.Option(None, help=seed_help),
    ) -> None:
        from nomocap.checkpoint import CheckpointError
        from nomocap.retrieval.train import EmbeddingTrainConfig, train_embedding_model
        from nomocap.runlog import check_tensorboard

        try:
            cfg = EmbeddingTrainConfig.from_preset(kind, preset, steps=steps, seed=seed, text_encoder=text_encoder)
            if tensorboard:
                check_tensorboard()
            train_embedding_model(data, out, cfg, resume=resume, console=console, device=resolve_device(device),
                                  tensorboard=tensorboard)
        except (ValueError, CorpusError, CheckpointError) as err:
            fail(str(err))
        console.print(f"wrote {out}")

    command.__doc__ = doc
    app.command(name)(command)


_embedding_command(
    "retrieval", "train-retrieval", "corpus to train on", "random seed (preset default: 0)",
    """Train the TMR-style retrieval model whose cosine similarity is the RL reward.

    Example: nomocap train-retrieval --data data/k --preset small --out runs/reward_k
    """)
_embedding_command(
    "evaluator", "train-evaluator", "corpus to train on (the target corpus of the evaluation)",
    "random seed (preset default: 1, unlike the reward's 0)",
    """Train the T2M-style evaluator that grades generated motion (never the reward model).

    Example: nomocap train-evaluator --data data/k --preset small --out runs/evaluator_k
    """)


@app.command("finetune")
def finetune(
    model: Path = typer.Option(..., help="pretrained base run (never modified)"),
    reward: list[Path] = typer.Option(..., help="retrieval run whose cosine similarity is the reward; given "
                                      "several times: their mean (an ensemble)"),
    val_reward: Path = typer.Option(None, help="retrieval run that scores the held-out validation (which adapter "
                                    "is kept) instead of the reward: a model the training never climbed"),
    out: Path = typer.Option(..., "--out", "-o", help="folder for the adapter, logs and checkpoints"),
    data: Path = typer.Option(None, help="target corpus: its captions are the prompts (motions unused)"),
    prompts: Path = typer.Option(None, help="a text file of prompts, one per line"),
    annotations: Path = typer.Option(None, help="a TMR-style annotations.json (e.g. the real KIT-ML texts)"),
    category: str = typer.Option(None, help="only prompts of this class (object_manipulation, posture_balance)"),
    replay: Path = typer.Option(None, help="source corpus whose captions are replayed (keeps what the model knew)"),
    preset: str = typer.Option("small", help="tiny, small (CPU) or paper (GPU)"),
    method: str = METHOD,
    iterations: int = typer.Option(None, help="override the preset's iterations (ddpo)"),
    contrastive: bool = CONTRASTIVE,
    twin: bool = TWIN,
    foot_skating: float = typer.Option(0.0, help="weight of the foot-skating penalty (m/s of feet sliding, grounded)"),
    ground_penetration: float = typer.Option(0.0, help="weight of the ground-penetration penalty (m below the floor)"),
    jitter: float = typer.Option(0.0, help="weight of the jitter penalty (m/s^3 of joint jerk)"),
    clip_range: float = typer.Option(None, help="override the PPO clip range (ddpo)"),
    lr: float = typer.Option(None, help="override the adapters' learning rate"),
    kl_coef: float = typer.Option(None, help="override the KL-to-base coefficient (ddpo)"),
    replay_fraction: float = typer.Option(None, help="override the fraction of replayed source prompts"),
    settings: list[str] = SETTINGS,
    device: str = typer.Option("auto", help=DEVICE_HELP + "; a multi-process launch picks each rank's own"),
    resume: bool = RESUME,
    tensorboard: bool = typer.Option(False, help=TENSORBOARD_HELP + " (the main process's)"),
    judge_prompts: int = typer.Option(0, help="> 0: every validation also logs the programmatic judge's accuracy on "
                                      "this many held-out captions of the target (judge_target) and of --replay "
                                      "(judge_source); the embedded corpus's vocabulary"),
    seed: int = SEED,
) -> None:
    """RL post-training (DDPO + PPO clip) of LoRA adapters from text prompts only (comparisons: --method raft
    distils the model's own best-of-n samples, --method draft backpropagates the reward through the sampler).

    Example: nomocap finetune --model runs/base_h --reward runs/reward_k --data data/k --out runs/ft_k
    """
    from nomocap.checkpoint import CheckpointError, load_config
    from nomocap.data.prompts import load_prompts
    from nomocap.motion.skeleton import get_skeleton
    from nomocap.pipeline import MotionPipeline
    from nomocap.rewards import WeightedSum
    from nomocap.rewards.physics import FootSkating, GroundPenetration, Jitter
    from nomocap.rewards.retrieval import RetrievalReward
    from nomocap.rl import method_config, trainer_class
    from nomocap.rl.distributed import Distributed
    from nomocap.runlog import check_tensorboard

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
        base_config = load_config(model, kind="denoiser")
        given = {**parse_settings(settings), **{k: v for k, v in named.items() if v is not None}}
        cfg = method_config(method, preset, base_config.get("arch"), **given)
        if tensorboard:
            check_tensorboard()
        skeleton = base_config.get("skeleton", "t2m")
        fps = get_skeleton(skeleton).fps  # annotations: seconds
        train_prompts = load_prompts(sources[0], "train", category, fps)
        val_prompts = load_prompts(sources[0], "val", category, fps) if sources[0].is_dir() or \
            sources[0].suffix == ".json" else []
        replay_prompts = load_prompts(replay, "train", fps=fps) if replay else []
        judge_sets = _judge_sets(judge_prompts, val_prompts, replay, fps, skeleton)
        cache = out / ".text_cache"
        # Several reward runs share the weight 1 (their names tell the logged terms apart).
        terms = [(RetrievalReward.from_run(r, contrastive, cache, f"tmr{i + 1}:{r.name}" if len(reward) > 1 else None,
                                           twin=twin), 1.0 / len(reward)) for i, r in enumerate(reward)]
        physics = ((FootSkating, foot_skating), (GroundPenetration, ground_penetration), (Jitter, jitter))
        terms += [(penalty(skeleton), weight) for penalty, weight in physics if weight]
        dist = Distributed.from_env()
        if method != "ddpo" and dist.world > 1:
            raise ValueError(f"{method} runs in one process; launch it without accelerate/torchrun")
        where = str(dist.device) if dist.world > 1 else resolve_device(device)
        pipe = MotionPipeline.from_run(model, device=where, cache_dir=out / ".text_cache")
        out.mkdir(parents=True, exist_ok=True)
        more = {"dist": dist} if method == "ddpo" else {}
        trainer = trainer_class(cfg)(pipe, WeightedSum(terms), train_prompts, cfg, out, model, replay_prompts,
                                     val_prompts, console if dist.is_main else Console(quiet=True),
                                     {"reward_run": _run_paths(reward), "prompts": str(sources[0]),
                                      **({"val_reward_run": str(val_reward.resolve())} if val_reward else {})}, **more)
        if val_reward:
            trainer.val_reward = RetrievalReward.from_run(val_reward, contrastive, cache, twin=twin)
        trainer.judge_sets = judge_sets
        try:
            trainer.run(resume=resume, tensorboard=tensorboard)
        finally:
            del trainer
            dist.close()
    except (ValueError, CorpusError, CheckpointError) as err:
        fail(str(err))
    if not dist.is_main:
        return
    from nomocap.report import training_curves

    training_curves(out / "log.jsonl", out / "curves.png")
    console.print(f"wrote {out}/adapter (last), {out}/best (best validation reward) and {out}/curves.png")


def _judge_sets(count: int, val_prompts: list, replay: Path | None, fps: float, skeleton: str) -> dict | None:
    """``--judge-prompts``: that many held-out captions of the target and of the replayed source, spread over their
    val splits; refused (before any work) where there are none or the judge cannot read them."""
    from nomocap.data.prompts import load_prompts
    from nomocap.eval.protocol import judge_reads
    from nomocap.rl.validation import spread_prompts

    if count < 0:
        raise ValueError(f"--judge-prompts {count}: give a count of held-out captions (0: off)")
    if not count:
        return None
    sets = {"target": spread_prompts(val_prompts, count)}
    if replay:
        sets["source"] = spread_prompts(load_prompts(replay, "val", fps=fps), count)
    for name, prompts in sets.items():
        if not judge_reads([(p.text, p.frames) for p in prompts], skeleton):
            raise ValueError(f"--judge-prompts: the programmatic judge cannot read the {name}'s held-out captions "
                             f"({len(prompts)} found; it needs a val split in the embedded corpus's vocabulary on "
                             "the t2m skeleton: --data DIR / --replay DIR of `nomocap data make`); leave it out")
    return sets


@app.command("merge-adapter")
def merge_adapter_cmd(
    model: Path = typer.Option(..., help="the base run the adapter was trained on (never modified)"),
    adapter: Path = typer.Option(..., help="a fine-tuned adapter folder (OUT/best or OUT/adapter of finetune)"),
    out: Path = typer.Option(..., "--out", "-o", help="run folder to write: the base with the adapter merged in"),
    force: bool = typer.Option(False, help="replace a folder already in --out"),
    adapter_scale: float = ADAPTER_SCALE,
) -> None:
    """Merge a LoRA adapter into its base's weights: a plain base run that generate, evaluate and a second
    finetune read without the adapter (e.g. to fine-tune a fine-tuned model again, or to ship one file).

    Example: nomocap merge-adapter --model runs/base_h --adapter runs/ft_k/best --out runs/base_h_ft_k
    """
    from nomocap.checkpoint import CheckpointError
    from nomocap.models.lora import merge_adapter

    try:
        merge_adapter(model, adapter, out, force, adapter_scale)
    except (ValueError, CheckpointError) as err:
        fail(str(err))
    scaled = f" × {adapter_scale:g}" if adapter_scale != 1.0 else ""
    console.print(f"wrote {out} ({model} with {adapter}{scaled} merged in)")


def _run_paths(runs: list[Path]) -> str | list[str]:
    """One run as a plain path (the config every earlier run wrote, so that their --resume still matches)."""
    paths = [str(r.resolve()) for r in runs]
    return paths[0] if len(paths) == 1 else paths
