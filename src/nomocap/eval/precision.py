"""Instruction precision (the paper's Figure 2 as numbers): does a motion follow "left" and not "right"?

Each prompt naming a side, a turning sense or a travel direction is paired with its swapped twin
("left" <-> "right", "clockwise" <-> "counterclockwise", "forward" <-> "backward"). The motion generated
for the prompt is judged against both, on the attributes the swap changes; each attribute lands in one
cell: *followed* (passes the prompt, fails the twin), *opposite* (did the twin instead), *both* (the
judge cannot tell them apart) or *neither*.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from nomocap.data.synth.captions import mirror_caption
from nomocap.data.synth.judge import judge_motion

# The judged attributes whose verdict depends on a side or direction word.
SWAP_SENSITIVE = ("direction", "leg", "hand", "arm", "knee", "stance")
AXES = {
    "rotation": re.compile(r"\b(clockwise|counter-?clockwise|anti-?clockwise)\b", re.I),
    "side": re.compile(r"\b(left|right)\b", re.I),
    "travel": re.compile(r"\b(forwards?|backwards?)\b", re.I),
}
_TRAVEL = {"forward": "backward", "forwards": "backwards", "backward": "forward", "backwards": "forwards"}
CELLS = ("followed", "opposite", "both", "neither")


def precision_axis(caption: str) -> str | None:
    """The instruction a caption hinges on (rotation before side before travel), or None."""
    for axis, pattern in AXES.items():
        if pattern.search(caption):
            return axis
    return None


def swap_instruction(caption: str) -> str:
    """The caption's twin: left/right and the turning sense mirrored, forward/backward reversed."""

    def flip(m: re.Match) -> str:
        word = m.group(0)
        new = _TRAVEL[word.lower()]
        return new.capitalize() if word[0].isupper() else new

    return AXES["travel"].sub(flip, mirror_caption(caption))


def precision_confusion(motions: Sequence[np.ndarray], captions: Sequence[str]) -> dict:
    """Per axis and overall: the share of swap-sensitive attributes in each cell, and the counts."""
    counts = {axis: dict.fromkeys(CELLS, 0) for axis in (*AXES, "all")}
    for joints, caption in zip(motions, captions, strict=True):
        axis = precision_axis(caption)
        if axis is None:
            continue
        own, twin = judge_motion(joints, caption), judge_motion(joints, swap_instruction(caption))
        for key in own.keys() & twin.keys():
            if key.split("#")[0].split(".")[-1] not in SWAP_SENSITIVE:
                continue
            cell = {(True, False): "followed", (False, True): "opposite", (True, True): "both",
                    (False, False): "neither"}[(own[key], twin[key])]
            counts[axis][cell] += 1
            counts["all"][cell] += 1
    return _with_shares(counts)


def combine_confusions(results: Sequence[dict]) -> dict:
    """Several ``precision_confusion`` results as one: what it gives for all their motions together."""
    return _with_shares({axis: {cell: sum(r["counts"][axis][cell] for r in results) for cell in CELLS}
                         for axis in results[0]["counts"]})


def _with_shares(counts: dict[str, dict[str, int]]) -> dict:
    shares = {axis: {cell: (n / total if (total := sum(c.values())) else float("nan")) for cell, n in c.items()}
              for axis, c in counts.items()}
    return {"shares": shares, "counts": counts}


def confusion_markdown(rows: dict[str, dict]) -> str:
    """``{model name: precision_confusion(...)}`` -> a table: followed / opposite / both / neither per axis."""
    lines = ["| Model | Axis | attributes | followed ↑ | opposite ↓ | both | neither |", "|" + "---|" * 7]
    for name, result in rows.items():
        for axis in (*AXES, "all"):
            n = sum(result["counts"][axis].values())
            if n:
                s = result["shares"][axis]
                lines.append(f"| {name} | {axis} | {n} | " + " | ".join(f"{s[c]:.3f}" for c in CELLS) + " |")
    return "\n".join(lines) + "\n"
