"""Leave-one-out (the paper's Table 2) on the embedded corpus: can prompt-only RL teach a held-out category?

For each category: pretrain without its motions; train the reward model and the evaluator on the full
corpus; fine-tune the category-less model with the category's *training captions only* (the other
captions replayed); evaluate on the category's test motions. Rows: ground truth, the model pretrained
with the category ("full"), without it, and fine-tuned. Beside the table, the *reach* of both base
models: for test captions of the category, does any of 64 samples pass the judge (best-of-64)? RL
re-weights what the model samples, so a caption out of reach is not expected to be learnt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console

from nomocap.data.categories import CATEGORIES, caption_category, check_category
from nomocap.data.prompts import load_prompts
from nomocap.eval.protocol import (
    EvalSet,
    ProtocolConfig,
    judge_reads,
    markdown_table,
    write_results,
)
from nomocap.eval.reach import best_of_n
from nomocap.experiments.common import (
    ExperimentConfig,
    corpus_stage,
    domain_skeleton,
    embedding_stage,
    finetune_stage,
    judge_paired_note,
    pooled_rows,
    pretrain_stage,
    shipped,
)
from nomocap.experiments.measured import Measurements, fingerprint
from nomocap.pipeline import MotionPipeline
from nomocap.report import training_curves, write_html
from nomocap.retrieval.train import EmbeddingModel


@dataclass
class LeaveOneOutConfig(ExperimentConfig):
    domain: str = "h"
    categories: list[str] = field(default_factory=lambda: list(CATEGORIES))
    reach_captions: int = 16
    reach_samples: int = 64


def run(out: str | Path, cfg: LeaveOneOutConfig, console: Console | None = None) -> dict:
    console = console or Console()
    out = Path(out)
    categories = [check_category(c) for c in cfg.categories]
    domain_skeleton(cfg.domain)  # a corpus folder is checked before anything is written
    out.mkdir(parents=True, exist_ok=True)
    data = corpus_stage(out, cfg.domain, cfg.preset, cfg.data_seed, console)
    train_prompts = {c: load_prompts(data, "train", c) for c in categories}  # a class without captions fails here
    dev = cfg.device
    full = shipped("base", cfg.domain, cfg) or pretrain_stage(out / "base_full", data, cfg.preset, cfg.arch, cfg.repr,
                                                             console, device=dev)
    reward = shipped("retrieval", cfg.domain, cfg) or embedding_stage(out / "reward", data, "retrieval", cfg.preset,
                                                                      console, dev)
    evaluator = EmbeddingModel.load(shipped("evaluator", cfg.domain, cfg) or embedding_stage(
        out / "evaluator", data, "evaluator", cfg.preset, console, dev), "evaluator")
    protocol = cfg.protocol()
    measured = Measurements(out / "measured")  # a re-run measures only models it has not measured yet
    results, sections = {}, []
    for category in categories:
        withouts = [pretrain_stage(out / without_folder(category, seed), data, cfg.preset, cfg.arch, cfg.repr, console,
                                   exclude_category=category, device=dev, seed=seed) for seed in cfg.base_seeds]
        train = train_prompts[category]
        others = [p for p in load_prompts(data, "train") if caption_category(p.text) != category]
        val = load_prompts(data, "val", category)
        # Per class-less base, its fine-tuned seeds; the rows pool over all of them.
        adapters = [[finetune_stage(out / cfg.finetune_folder(base_seed, seed, category), without, reward,
                                    cfg.finetune_config(seed), train, others, val, cfg.contrastive, console, dev,
                                    twin=cfg.twin)
                     for seed in cfg.seeds] for base_seed, without in zip(cfg.base_seeds, withouts)]
        eval_set = EvalSet(data, "test", evaluator, category=category)
        full_pipe = MotionPipeline.from_run(full, dev)
        without_pipes = [MotionPipeline.from_run(without, dev) for without in withouts]
        tuned = [[MotionPipeline.from_run(without, dev, adapter=a / "best", adapter_scale=cfg.adapter_scale)
                  for a in group] for without, group in zip(withouts, adapters)]
        pooled = pooled_rows(lambda pipe, test=eval_set: measured.row(evaluator, protocol, pipe, test, console),
                             without_pipes, tuned)
        rows = {"ground_truth": pooled["ground_truth"],
                "full": measured.row(evaluator, protocol, full_pipe, eval_set, console),
                "without": pooled["base"], "finetuned": pooled["finetuned"]}
        without_label = "Pretrained without it" + (f" ({len(withouts)} bases)" if len(withouts) > 1 else "")
        table = markdown_table({"Ground truth": rows["ground_truth"], "Pretrained with the category": rows["full"],
                                without_label: rows["without"],
                                f"Without it + RL {cfg.method_label}": rows["finetuned"]})
        if "per_base" in pooled:
            rows["per_base"] = pooled["per_base"]
            table += "\nPer class-less base, each with its own fine-tuned seeds:\n\n" + markdown_table(
                {label: row for seed, pair in zip(cfg.base_seeds, pooled["per_base"]) for label, row in
                 ((f"Without it, seed {seed}", pair["base"]), (f"+ RL from seed {seed}", pair["finetuned"]))})
        notes = (f"{len(train)} training captions of {category}; evaluated on {len(eval_set.items)} test motions."
                 + (" The model pretrained with the category is one (seed 0), the reference.\n\n"
                    if len(withouts) > 1 else "\n\n")
                 + _judged(rows, cfg, category, eval_set, protocol, full_pipe, without_pipes, tuned, measured))
        title = (f"Leave-one-out: {category} ({cfg.preset} preset, {cfg.arch}, seeds {cfg.seeds}"
                 + (f", base seeds {cfg.base_seeds})" if len(withouts) > 1 else ")"))
        sections += [(title, table + "\n" + notes),
                     (f"Fine-tuning curves ({category}, seed {cfg.seeds[0]})",
                      training_curves(adapters[0][0] / "log.jsonl", out / f"curves_{category}.png"))]
        console.print(table + "\n" + notes)
        results[category] = rows
    write_results(results, out, "\n".join(body for _, body in sections if isinstance(body, str)))
    write_html(out / "report.html", "nomocap leave-one-out report", sections)
    console.print(f"report: {out / 'report.html'}")
    return results


def without_folder(category: str, seed: int) -> str:
    """``base_without_<class>`` (pretraining seed 0, every earlier folder's name) or ``..._seedN``."""
    return f"base_without_{category}" + (f"_seed{seed}" if seed else "")


def _judged(rows: dict, cfg: LeaveOneOutConfig, category: str, eval_set: EvalSet, protocol: ProtocolConfig,
            full_pipe: MotionPipeline, without_pipes: list[MotionPipeline], tuned: list[list[MotionPipeline]],
            measured: Measurements) -> str:
    """Reach (each base's best-of-n, judged) and the paired judge (each class-less base with its own fine-tuned
    models) into ``rows``, and their notes — where the programmatic judge reads the class's captions (the embedded
    corpus's vocabulary)."""
    gen = (protocol.sampler, protocol.steps, protocol.guidance)
    if not judge_reads(eval_set.captions(), eval_set.skeleton.name):
        return (f"The programmatic judge reads the embedded corpus's caption vocabulary on the t2m skeleton only; "
                f"it checks none of {category}'s test captions, so reach and the judge are left out.\n")
    pairs = [(it.texts[0].text, len(f)) for it, f in zip(eval_set.items, eval_set.features)][: cfg.reach_captions]

    def reach_of(pipe: MotionPipeline) -> dict:
        key = {"model": measured.model(pipe), "pairs": fingerprint(pairs), "samples": cfg.reach_samples,
               "generation": gen}
        return measured.get("reach", key, lambda: best_of_n(pipe, pairs, cfg.reach_samples, *gen))

    full, withouts = reach_of(full_pipe), [reach_of(pipe) for pipe in without_pipes]
    without = withouts[0] if len(withouts) == 1 else {
        "reach": float(np.mean([r["reach"] for r in withouts])),
        "sample_pass_rate": float(np.mean([r["sample_pass_rate"] for r in withouts])),
        "captions": len(pairs), "samples": cfg.reach_samples, "per_base": withouts}
    rows["reach"] = {"full": full, "without": without}
    rows["judge_paired"] = measured.paired(without_pipes, tuned, eval_set.captions(), gen)[2]
    per_base = ("; per base " + ", ".join(f"{r['reach']:.3f}" for r in withouts)) if len(withouts) > 1 else ""
    return (f"Reach (best-of-{cfg.reach_samples}, {len(pairs)} test captions): pretrained with the category "
            f"{full['reach']:.3f} (per-sample pass rate {full['sample_pass_rate']:.3f}), "
            f"without it {without['reach']:.3f} ({without['sample_pass_rate']:.3f}{per_base}).\n\n"
            f"{judge_paired_note(rows['judge_paired'], category)}\n")
