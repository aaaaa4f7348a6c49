"""Several corpora as one, in the HumanML3D layout: what a reward model trained on source *and* target reads.

The cross-dataset experiment's reward model is trained on the target corpus, or on source and target together
(the issue's "share the evaluator, not the data": whoever owns the target ships a model trained on what they
have; the model need not have seen the target alone). ``nomocap train-retrieval`` reads one folder, so the
corpora are written as one: every file id prefixed with its corpus's name, each split the union of the
corpora's, ``Mean.npy``/``Std.npy`` recomputed over the union's training motions the way HumanML3D computes
them. The corpora must share a skeleton (HumanML3D's 263-d features and KIT-ML's 251-d ones cannot be mixed).
The folder is written beside ``out`` and renamed into place at the end: a killed merge leaves nothing half-made.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from nomocap.atomic import folder_in_place
from nomocap.data.humanml import SPLITS, CorpusError, feature_stats, infer_skeleton, load_array, read_split


def merge_corpora(roots: list[str | Path], out: str | Path, force: bool = False) -> dict[str, int]:
    """Write the union of ``roots`` to ``out``; returns the number of motions per split."""
    roots, out = [Path(r) for r in roots], Path(out)
    if len(roots) < 2:
        raise CorpusError("merging needs at least two corpora")
    names = [r.resolve().name for r in roots]
    if len(set(names)) < len(names):
        names = [f"c{i}" for i in range(len(roots))]  # two folders of one name: number them instead
    skeletons = [infer_skeleton(r) for r in roots]
    if len({s.name for s in skeletons}) > 1:
        raise CorpusError("corpora on different skeletons cannot be merged: "
                          + ", ".join(f"{r} ({s.name}, {s.feature_dim}-d)" for r, s in zip(roots, skeletons))
                          + "; retarget one to the other's skeleton first")
    if out.exists() and any(out.iterdir()) and not force:
        raise CorpusError(f"{out} exists and is not empty; remove it, choose another --out or pass --force")
    with folder_in_place(out) as tmp:
        counts = _write_union(roots, names, tmp, skeletons[0])
    return counts


def _write_union(roots: list[Path], names: list[str], dest: Path, skeleton) -> dict[str, int]:
    (dest / "new_joint_vecs").mkdir()
    (dest / "texts").mkdir()
    splits: dict[str, list[str]] = {s: [] for s in SPLITS}
    train_features = []
    for root, name in zip(roots, names):
        for split in SPLITS:
            if not (root / f"{split}.txt").is_file():
                continue
            for item in read_split(root, split):
                merged = f"{name}_{item}"
                text = root / "texts" / f"{item}.txt"
                if not text.is_file():
                    raise CorpusError(f"{text} is missing (listed in {root}/{split}.txt); run `nomocap data check "
                                      f"{root}`")
                # read once: checked, written, and (training motions) counted in the statistics
                features = load_array(root / "new_joint_vecs" / f"{item}.npy")
                np.save(dest / "new_joint_vecs" / f"{merged}.npy", features)
                if split == "train":
                    train_features.append(features)
                shutil.copyfile(text, dest / "texts" / f"{merged}.txt")
                splits[split].append(merged)
    if not train_features:
        raise CorpusError(f"none of {', '.join(map(str, roots))} has training motions (train.txt)")
    for split, ids in splits.items():
        (dest / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    (dest / "all.txt").write_text("".join(f"{i}\n" for ids in splits.values() for i in ids))
    mean, std = feature_stats(train_features, skeleton)
    np.save(dest / "Mean.npy", mean)
    np.save(dest / "Std.npy", std)
    return {split: len(ids) for split, ids in splits.items()}
