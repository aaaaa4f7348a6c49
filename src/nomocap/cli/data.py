"""``nomocap data ...``: create, validate and inspect motion corpora."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.table import Table

from nomocap.cli.common import console, data_app, fail
from nomocap.data.humanml import CorpusError


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
        for p in problems:  # relative to the folder in the title, so that a long path never folds a file's name
            table.add_row(p.severity, os.path.relpath(p.path, root), p.message)
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


@data_app.command("annotations")
def data_annotations(
    corpus: Path = typer.Argument(..., help="a corpus folder in the HumanML3D layout"),
    out: Path = typer.Option(..., "--out", "-o", help="folder for annotations.json and the split files"),
) -> None:
    """Export a corpus's captions (with their motions' lengths) as a TMR-style annotations.json, so that
    fine-tuning runs where only the prompts are: `nomocap finetune --annotations OUT/annotations.json`.

    Example: nomocap data annotations data/k --out prompts/k
    """
    from nomocap.data.prompts import write_annotations

    try:
        counts = write_annotations(corpus, out)
    except CorpusError as err:
        fail(str(err))
    console.print(f"wrote {out}/annotations.json (" + ", ".join(f"{s} {n}" for s, n in counts.items()) + " captions)")


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


@data_app.command("merge")
def data_merge(
    roots: list[Path] = typer.Argument(..., help="two or more corpora in the HumanML3D layout, on one skeleton"),
    out: Path = typer.Option(..., "--out", "-o", help="folder to write the merged corpus to"),
    force: bool = typer.Option(False, help="replace a folder already in --out"),
) -> None:
    """Write several corpora as one (ids prefixed with each folder's name; Mean/Std over the union's training set).

    Example: nomocap data merge data/h data/k --out data/hk   # then: nomocap train-retrieval --data data/hk ...
    """
    from nomocap.data.merge import merge_corpora

    try:
        counts = merge_corpora(roots, out, force)
    except CorpusError as err:
        fail(str(err))
    console.print(f"wrote {out}: " + ", ".join(f"{n} {split}" for split, n in counts.items()) + " motions")


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
