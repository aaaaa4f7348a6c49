"""Cross-dataset adaptation (the paper's Table 1) on the embedded corpora, end to end.

Pretrain on the source domain; train the reward model on the target (or on source and target merged:
``reward_data="both"``) and the evaluator on the target; fine-tune with the target's *training prompts only*
(source captions replayed); evaluate base vs fine-tuned on the target's test split with the target's
evaluator, plus the judge and the left/right-style precision subset; write ``results.json``, ``results.md``,
curves, a render grid and ``report.html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from nomocap.checkpoint import load_config
from nomocap.data.humanml import CorpusError
from nomocap.data.prompts import load_prompts, prompts_by_split
from nomocap.eval.precision import combine_confusions, confusion_markdown, precision_axis
from nomocap.eval.protocol import (
    EvalSet,
    ProtocolConfig,
    evaluate,
    judge_accuracy,
    judge_reads,
    markdown_table,
    write_results,
)
from nomocap.experiments.common import (
    ExperimentConfig,
    corpus_stage,
    domain_skeleton,
    embedding_stage,
    finetune_stage,
    judge_paired_note,
    merged_corpus_stage,
    pool,
    pooled_rows,
    pretrain_stage,
    shipped,
)
from nomocap.experiments.measured import Measurements, split_fingerprint
from nomocap.experiments.stages import config_hash
from nomocap.motion.render import render_grid
from nomocap.pipeline import MotionPipeline
from nomocap.report import training_curves, write_html
from nomocap.retrieval.train import EmbeddingModel
from nomocap.rewards.best_of_n import BestOfN
from nomocap.rewards.retrieval import RetrievalReward


@dataclass
class CrossDatasetConfig(ExperimentConfig):
    source: str = "h"
    target: str = "k"
    source_evaluator: bool = True  # Table 3: train an evaluator on the source too and measure forgetting with it
    best_of: int = 0  # > 1: add the base's best-of-n row (ranked by the reward model), RL's baseline and ceiling
    reward_data: str = "target"  # or "both": the reward model trained on source and target together
    prompts: str | None = None  # fine-tuning prompts other than the target's training captions (load_prompts)
    # pretrained source denoisers of the user's, fine-tuned as they are instead of the shipped / pretrained ones
    bases: list[str] = field(default_factory=list)

    @property
    def source_name(self) -> str:
        """How tables name the source: ``h``, ``k`` or a corpus folder's name."""
        return Path(self.source).name

    @property
    def target_name(self) -> str:
        return Path(self.target).name

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reward_data not in ("target", "both"):
            raise ValueError(f"unknown --reward-data {self.reward_data!r}: choose target or both")
        if self.bases:
            self.check_bases()

    def check_bases(self) -> None:
        """Given bases: pretrained denoiser runs of the experiment's architecture and representation."""
        if self.base_seeds != [0]:
            raise ValueError("give --base RUN or --base-seeds, not both: given bases are used as they are")
        names = [Path(b).name for b in self.bases]
        if len(set(names)) != len(names):
            raise ValueError(f"--base {' '.join(self.bases)}: give bases in folders of distinct names (each names "
                             "its fine-tuning stages)")
        for base in self.bases:
            config = load_config(base, kind="denoiser")
            arch, repr = config.get("arch", "mdm"), config.get("repr", "guo")
            if (arch, repr) != (self.arch, self.repr):
                raise ValueError(f"--base {base} is an {arch} model on {repr} features; the experiment is "
                                 f"--arch {self.arch} --repr {self.repr}: pass --arch {arch} --repr {repr}")

    def base_names(self) -> list[tuple[int, str]]:
        """Per base: its pretraining seed and the label of its fine-tuning stages (a given base: its folder name)."""
        if self.bases:
            return [(0, Path(b).name) for b in self.bases]
        return [(seed, "") for seed in self.base_seeds]

    def base_folder(self, seed: int) -> str:
        """``base`` (seed 0, the base of every earlier experiment folder) or ``base_seedN``."""
        return "base" if seed == 0 else f"base_seed{seed}"


def precision_prompts(eval_set: EvalSet) -> list[tuple[str, int]]:
    return [(text, frames) for text, frames in eval_set.captions() if precision_axis(text) is not None]


def run(out: str | Path, cfg: CrossDatasetConfig, console: Console | None = None) -> dict:
    console = console or Console()
    out = Path(out)
    source_skeleton, target_skeleton = domain_skeleton(cfg.source), domain_skeleton(cfg.target)  # before any work
    if source_skeleton.name != target_skeleton.name:
        raise CorpusError(f"the source {cfg.source} ({source_skeleton.name}) and the target {cfg.target} "
                          f"({target_skeleton.name}) are on different skeletons: a model pretrained on one cannot "
                          "be evaluated on the other; give the target in the source's representation")
    for base in cfg.bases:
        skeleton = load_config(base, kind="denoiser").get("skeleton", "t2m")
        if skeleton != source_skeleton.name:
            raise CorpusError(f"--base {base} was pretrained on the {skeleton} skeleton, the source {cfg.source} is "
                              f"on {source_skeleton.name}: give the corpus it was pretrained on as --source")
    # A missing, empty or malformed prompt source fails here; an annotations file's seconds are read at the base
    # model's frame rate.
    own_prompts = load_prompts(cfg.prompts, "train", fps=source_skeleton.fps) if cfg.prompts else None
    out.mkdir(parents=True, exist_ok=True)
    data = {d: corpus_stage(out, d, cfg.preset, cfg.data_seed, console) for d in (cfg.source, cfg.target)}
    src, tgt = data[cfg.source], data[cfg.target]
    dev = cfg.device
    bases = [Path(b) for b in cfg.bases] or [
        (shipped("base", cfg.source, cfg) if seed == 0 else None)
        or pretrain_stage(out / cfg.base_folder(seed), src, cfg.preset, cfg.arch, cfg.repr, console, device=dev,
                          seed=seed) for seed in cfg.base_seeds]
    if cfg.reward_data == "both":
        reward = embedding_stage(out / "reward_both", merged_corpus_stage(out, [src, tgt], console), "retrieval",
                                 cfg.preset, console, dev)
    else:
        reward = shipped("retrieval", cfg.target, cfg) or embedding_stage(out / "reward", tgt, "retrieval",
                                                                          cfg.preset, console, dev)
    evaluator_run = shipped("evaluator", cfg.target, cfg) or embedding_stage(out / "evaluator", tgt, "evaluator",
                                                                             cfg.preset, console, dev)
    console.print(f"base {', '.join(map(str, bases))}\nreward {reward}\nevaluator {evaluator_run}")
    prompts = own_prompts or load_prompts(tgt, "train")
    # The file and a hash of its prompts: an edited prompt file re-runs the fine-tuning stages.
    prompt_source = (f"{Path(cfg.prompts).resolve()} {config_hash({'prompts': [p.text for p in prompts]})}"
                     if cfg.prompts else None)

    # Per base, its fine-tuned seeds; every row pools over all of them.
    replay, val = load_prompts(src, "train"), load_prompts(tgt, "val")
    adapters = [[finetune_stage(out / cfg.finetune_folder(base_seed, seed, label), base, reward,
                                cfg.finetune_config(seed), prompts, replay, val, cfg.contrastive, console, dev,
                                prompt_source, twin=cfg.twin)
                 for seed in cfg.seeds] for (base_seed, label), base in zip(cfg.base_names(), bases)]

    evaluator = EmbeddingModel.load(evaluator_run, "evaluator")
    protocol = cfg.protocol()
    eval_set = EvalSet(tgt, "test", evaluator)
    base_pipes = [MotionPipeline.from_run(base, dev) for base in bases]
    tuned = [[MotionPipeline.from_run(base, dev, adapter=a / "best", adapter_scale=cfg.adapter_scale) for a in group]
             for base, group in zip(bases, adapters)]
    measured = Measurements(out / "measured")  # a re-run measures only models it has not measured yet
    rows = _table_rows(evaluator, eval_set, protocol, base_pipes, tuned, console, measured)
    if cfg.best_of > 1:
        reward_fn = RetrievalReward.from_run(reward, cfg.contrastive, twin=cfg.twin)
        rows["best_of"] = pool([evaluate(evaluator, tgt, protocol, BestOfN(pipe, reward_fn, cfg.best_of),
                                         console=console, eval_set=eval_set) for pipe in base_pipes])
    pretrained = f"Pretrained on {cfg.source_name}" + (f" ({len(bases)} bases)" if len(bases) > 1 else "")
    best_of = {f"{pretrained}, best of {cfg.best_of} by the reward": rows["best_of"]} if "best_of" in rows else {}
    table = markdown_table({"Ground truth": rows["ground_truth"], pretrained: rows["base"],
                            **best_of, f"Fine-tuned {cfg.method_label}": rows["finetuned"]})
    table += (f"\nEvery motion sampled by {protocol.steps}-step {protocol.sampler} with classifier-free guidance "
              f"{protocol.guidance:g}.\n")
    if "per_base" in rows:
        table += "\nPer pretrained base, each with its own fine-tuned seeds:\n\n" + markdown_table(
            {label: row for (seed, name), pair in zip(cfg.base_names(), rows["per_base"]) for label, row in
             ((f"Pretrained, {name or f'seed {seed}'}", pair["base"]),
              (f"Fine-tuned from {name or f'seed {seed}'}", pair["finetuned"]))})
    if cfg.source_evaluator:
        rows["source"] = _source_rows(out, src, cfg, protocol, base_pipes, tuned, console, measured)
        table += (f"\nForgetting (the paper's Table 3): the same models on {cfg.source_name}'s test split, scored "
                  f"by an evaluator trained on {cfg.source_name}.\n\n" + markdown_table(
                      {"Ground truth": rows["source"]["ground_truth"], pretrained: rows["source"]["base"],
                       f"Fine-tuned {cfg.method_label}": rows["source"]["finetuned"]}))
    judge_rows, notes, precision = _judge_rows(cfg, eval_set, src, protocol, base_pipes, tuned, measured)
    rows.update(judge_rows)
    write_results(rows, out, table + "\n" + notes)
    _report(out, cfg, table, notes, adapters[0][0], base_pipes[0], tuned[0][0], precision or eval_set.captions(),
            protocol.guidance)
    print(table)
    console.print(notes)
    console.print(f"report: {out / 'report.html'}")
    return rows


def _judge_rows(cfg: CrossDatasetConfig, eval_set: EvalSet, src: Path, protocol: ProtocolConfig,
                base_pipes: list[MotionPipeline], tuned: list[list[MotionPipeline]], measured: Measurements
                ) -> tuple[dict, str, list[tuple[str, int]]]:
    """The judge's rows — paired over the target's test captions, the precision prompts with their confusion, and
    forgetting on the source's — where the judge reads the captions; the notes that say what was judged. Each base
    is paired with its own fine-tuned models (``tuned[i]`` with ``base_pipes[i]``)."""
    gen = (protocol.sampler, protocol.steps, protocol.guidance)
    rows = {}
    notes = []
    skeleton = eval_set.skeleton.name
    all_tuned = [pipe for group in tuned for pipe in group]
    if not judge_reads(eval_set.captions(), skeleton):
        notes.append(f"The programmatic judge reads the embedded corpus's caption vocabulary on the t2m skeleton "
                     f"only; it checks none of {cfg.target_name}'s test captions ({skeleton}), so the judge rows "
                     "are left out.")
        precision = []
    else:
        rows["judge_paired"] = measured.paired(base_pipes, tuned, eval_set.captions(), gen)[2]
        notes.append(judge_paired_note(rows["judge_paired"], cfg.target_name))
        precision = precision_prompts(eval_set)
    if judge_reads(precision, skeleton):
        base, models, difference = measured.paired(base_pipes, tuned, precision, gen, confusion=True)
        sides = {"base": base, "finetuned": [m for group in models for m in group]}
        prec = {name: float(np.mean([r["accuracy"] for r in results])) for name, results in sides.items()}
        confusion = {name: combine_confusions([r["confusion"] for r in results]) for name, results in sides.items()}
        rows["precision"] = {"judge_accuracy_base": prec["base"], "judge_accuracy_finetuned": prec["finetuned"],
                             "prompts": len(precision), "confusion": confusion, "paired": difference}
        confusion_table = confusion_markdown({"Pretrained": confusion["base"], "Fine-tuned": confusion["finetuned"]})
        notes.append(f"Precision prompts ({len(precision)} {cfg.target_name} test captions with left/right, clockwise/"
                     f"counter-clockwise or forward/backward): judge accuracy base {prec['base']:.3f}, fine-tuned "
                     f"{prec['finetuned']:.3f} (paired difference {difference['delta']:+.3f} ± "
                     f"{difference['ci']:.3f}). Each side/direction attribute judged against the prompt and its "
                     f"swapped twin:\n\n{confusion_table}")
    # Forgetting, judged on the source domain's test captions (the judge needs no source evaluator).
    source_limit = protocol.texts or 256
    if judge_reads([(text, 0) for texts in prompts_by_split(src).get("test", {}).values() for text in texts],
                   skeleton):
        split = split_fingerprint(src, "test")

        def source_accuracy(pipe: MotionPipeline) -> float:
            key = {"model": measured.model(pipe), "split": split, "limit": source_limit, "generation": gen}
            return measured.get("source-judge", key,
                                lambda: judge_accuracy(pipe, src, "test", source_limit, *gen)["accuracy"])

        forget = {name: float(np.mean([source_accuracy(p) for p in pipes]))
                  for name, pipes in (("base", base_pipes), ("finetuned", all_tuned))}
        rows["forgetting"] = {"source_judge_accuracy_base": forget["base"],
                              "source_judge_accuracy_finetuned": forget["finetuned"], "captions": source_limit}
        notes.append(f"Forgetting ({source_limit} {cfg.source_name} test captions): judge accuracy base "
                     f"{forget['base']:.3f}, fine-tuned {forget['finetuned']:.3f}.")
    return rows, "\n\n".join(notes) + "\n", precision


def _source_rows(out: Path, src: Path, cfg: CrossDatasetConfig, protocol: ProtocolConfig,
                 base_pipes: list[MotionPipeline], tuned: list[list[MotionPipeline]], console: Console,
                 measured: Measurements) -> dict:
    """Base and fine-tuned models on the source's test split, with an evaluator trained on the source."""
    run = shipped("evaluator", cfg.source, cfg) or embedding_stage(out / "source_evaluator", src, "evaluator",
                                                                   cfg.preset, console, cfg.device)
    evaluator = EmbeddingModel.load(run, "evaluator")
    return _table_rows(evaluator, EvalSet(src, "test", evaluator), protocol, base_pipes, tuned, console, measured)


def _table_rows(evaluator: EmbeddingModel, eval_set: EvalSet, protocol: ProtocolConfig,
                base_pipes: list[MotionPipeline], tuned: list[list[MotionPipeline]], console: Console,
                measured: Measurements) -> dict:
    """The table's rows on one test split: real motions, the bases pooled, and every fine-tuned model pooled."""
    return pooled_rows(lambda pipe: measured.row(evaluator, protocol, pipe, eval_set, console), base_pipes, tuned)


def _report(out: Path, cfg: CrossDatasetConfig, table: str, notes: str, adapter: Path, base_pipe: MotionPipeline,
            tuned: MotionPipeline, precision: list[tuple[str, int]], guidance: float) -> None:
    curves = training_curves(adapter / "log.jsonl", out / "curves.png")
    picks = precision[:: max(1, len(precision) // 4)][:4] or precision[:4]
    gen = torch.Generator().manual_seed(0)
    sampler = base_pipe.sampler("dpm++", 10)
    texts, lengths = [p for p, _ in picks], [n for _, n in picks]
    base_j = base_pipe.to_joints(base_pipe.sample(texts, lengths, sampler, guidance,
                                                  torch.Generator().manual_seed(0)))
    tuned_j = tuned.to_joints(tuned.sample(texts, lengths, sampler, guidance, gen))
    labels = [f"pretrained: {t}" for t in texts] + [f"fine-tuned: {t}" for t in texts]
    grid = render_grid(base_j + tuned_j, out / "grid.gif", labels, columns=len(texts), stride=3,
                       skeleton=base_pipe.skeleton) if picks else None
    title = (f"{cfg.source_name} -> {cfg.target_name} ({cfg.preset} preset, {cfg.arch}, seeds {cfg.seeds}, "
             f"guidance {guidance:g})")
    sections = [(f"Cross-dataset: {title}", table),
                ("Instruction precision and forgetting (programmatic judge)", notes),
                ("Fine-tuning curves", curves)]
    if grid:
        sections.append(("Same prompts: pretrained (top) vs fine-tuned (bottom)", grid))
    write_html(out / "report.html", "nomocap report", sections)
