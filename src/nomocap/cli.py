"""The ``nomocap`` command line: one sub-command per step of the pipeline."""

from __future__ import annotations

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


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("demo_out"), help="where the demo writes everything"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """The main job on the embedded default, end to end (grows with the pipeline).

    Example: nomocap demo --out demo_out
    """
    from nomocap.demo import run_demo

    run_demo(out, seed=seed, console=console)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
