"""Can a model trained without a category still reach it? Where its primitives occur elsewhere.

RL post-training only re-weights what the base model already samples, so a held-out category must be
built from pieces that the rest of the training data holds. This reads the ground-truth ``meta/``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from nomocap.data.categories import check_category, motion_category
from nomocap.data.humanml import read_captions, read_split


@dataclass
class ReachRow:
    caption: str
    primitives: dict[str, int]  # primitive -> training motions outside the category that use it

    @property
    def reachable(self) -> bool:
        return all(n > 0 for n in self.primitives.values())


def reach_report(root: str | Path, category: str, split: str = "test") -> tuple[list[ReachRow], Counter]:
    root = Path(root)
    category = check_category(category)
    if not (root / "meta").is_dir():
        raise ValueError(f"{root}/meta not found: reach needs the embedded corpus's ground truth "
                         "(make one with `nomocap data synth`)")

    def load(name: str) -> tuple[list[str], dict]:
        caps = [c.text for c in read_captions(root / "texts" / f"{name}.txt")]
        return caps, json.loads((root / "meta" / f"{name}.json").read_text())

    elsewhere: Counter = Counter()
    for name in read_split(root, "train"):
        caps, meta = load(name)
        if motion_category(caps) != category:
            elsewhere.update(meta["primitives"])
    rows = []
    for name in read_split(root, split):
        caps, meta = load(name)
        if motion_category(caps) == category:
            rows.append(ReachRow(caps[0], {p: elsewhere[p] for p in meta["primitives"]}))
    return rows, elsewhere
