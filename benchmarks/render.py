"""Seconds to write a report's render grid (8 panels, 196 frames, every third drawn) with ``motion/render.py``
against the renderer of an earlier commit (default: the last one drawing with matplotlib's 3-D axes), read from
git history, both in this process one after the other. Prints JSON.

    python benchmarks/render.py [--baseline-rev 0d18763] [--repeats 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import random_motion  # noqa: E402

from nomocap.motion import render  # noqa: E402


def baseline_module(rev: str):
    source = subprocess.run(["git", "show", f"{rev}:src/nomocap/motion/render.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "render_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("render_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-rev", default="0d18763")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    motions = [random_motion(i, 196, rigid=True) for i in range(8)]
    captions = [f"a person walks forward and waves, take {i}" for i in range(8)]
    renderers = {"this": render, f"baseline {args.baseline_rev}": baseline_module(args.baseline_rev)}
    seconds: dict[str, list[float]] = {name: [] for name in renderers}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):  # interleaved, so drift on a shared machine hits both alike
            for name, module in renderers.items():
                start = time.perf_counter()
                module.render_grid(motions, Path(tmp) / "grid.gif", captions, columns=4, stride=3)
                seconds[name].append(time.perf_counter() - start)
    best = {name: min(s) for name, s in seconds.items()}
    print(json.dumps({"panels": 8, "frames_drawn": len(range(0, 196, 3)), "seconds": seconds,
                      "speedup": best[f"baseline {args.baseline_rev}"] / best["this"]}, indent=1))


if __name__ == "__main__":
    main()
