"""``nomocap demo``: the furthest end-to-end path that exists, on the embedded default.

Today: make the two corpora (h and k), check them, judge the ground truth against its captions,
render a grid of motions with captions and export one as BVH. Later stages (pretraining, reward,
RL fine-tuning, evaluation) extend it as they land.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from nomocap.data.check import check_corpus
from nomocap.data.humanml import read_captions, read_split
from nomocap.data.synth.corpus import synthesize
from nomocap.data.synth.judge import judge_batch
from nomocap.motion.bvh import write_bvh
from nomocap.motion.render import render_grid


def _ensure_corpus(root: Path, domain: str, size: int, seed: int, console: Console) -> Path:
    if (root / "Mean.npy").exists():
        console.print(f"reusing corpus {root}")
        return root
    with console.status(f"synthesising domain {domain} ({size} motions + mirrors)"):
        synthesize(root, domain, size, seed)
    console.print(f"wrote corpus {root}")
    return root


def run_demo(out: Path, seed: int = 0, console: Console | None = None, size: int = 400) -> dict:
    console = console or Console()
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    table = Table(title="embedded corpora: ground truth judged against its own captions (test split)")
    for col in ("domain", "motions", "check errors", "judge accuracy", "attributes"):
        table.add_column(col, justify="right")
    for domain, n in (("h", size), ("k", max(size // 3, 30))):
        root = _ensure_corpus(out / f"corpus_{domain}", domain, n, seed, console)
        errors = [p for p in check_corpus(root) if p.severity == "error"]
        ids = read_split(root, "test")
        motions, captions = [], []
        for name in ids:
            joints = np.load(root / "new_joints" / f"{name}.npy")
            for cap in read_captions(root / "texts" / f"{name}.txt"):
                motions.append(joints)
                captions.append(cap.text)
        result = judge_batch(motions, captions)
        summary[domain] = {"check_errors": len(errors), "judge_accuracy": result["accuracy"]}
        table.add_row(domain, str(len((root / "all.txt").read_text().split())), str(len(errors)),
                      f"{result['accuracy']:.3f}", str(result["attributes"]))
    console.print(table)
    root = out / "corpus_h"
    ids = [i for i in read_split(root, "test") if not i.startswith("M")][:12]
    joints = [np.load(root / "new_joints" / f"{i}.npy") for i in ids]
    captions = [read_captions(root / "texts" / f"{i}.txt")[0].text for i in ids]
    console.print(f"wrote {render_grid(joints, out / 'corpus_h_grid.gif', captions, columns=4, stride=3)}")
    console.print(f"wrote {write_bvh(joints[0], out / f'{ids[0]}.bvh')}  ({captions[0]})")
    return summary
