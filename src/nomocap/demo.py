"""``nomocap demo``: the furthest end-to-end path that exists, on the embedded default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console

from nomocap.motion.bvh import write_bvh
from nomocap.motion.features import features_to_joints, joints_to_features
from nomocap.motion.render import render_motion

_SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "humanml3d_sample"


def run_demo(out: Path, seed: int = 0, console: Console | None = None) -> None:
    console = console or Console()
    out.mkdir(parents=True, exist_ok=True)
    feats = np.load(_SAMPLE / "new_joint_vecs" / "012314.npy")
    joints = features_to_joints(feats)
    again = features_to_joints(joints_to_features(joints))
    console.print(f"features -> joints -> features -> joints: max error {np.abs(again - joints[:-1]).max():.2e} m")
    console.print(f"wrote {render_motion(joints, out / '012314.gif', 'HumanML3D 012314')}")
    console.print(f"wrote {write_bvh(joints, out / '012314.bvh')}")
