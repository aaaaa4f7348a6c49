"""``nomocap data check``: every problem of a corpus on disk, named by file, without stopping at the first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nomocap.data.humanml import SPLITS, CorpusError, load_array, parse_caption_line
from nomocap.motion.skeleton import SKELETONS, Skeleton, get_skeleton


@dataclass(frozen=True)
class Problem:
    severity: str  # "error" makes the check fail; "warning" is reported (e.g. lengths the loader skips)
    path: str
    message: str


def _expected_skeleton(root: Path, problems: list[Problem], skeleton: str | None) -> Skeleton | None:
    if skeleton is not None:
        return get_skeleton(skeleton)
    widths = {sk.feature_dim: sk for sk in SKELETONS.values()}
    try:
        mean = load_array(root / "Mean.npy")
    except CorpusError as err:
        problems.append(Problem("error", str(root / "Mean.npy"), str(err)))
        return None
    if mean.ndim != 1 or mean.shape[0] not in widths:
        problems.append(Problem("error", str(root / "Mean.npy"),
                                f"shape {list(mean.shape)} is no known feature width {sorted(widths)}"))
        return None
    return widths[mean.shape[0]]


def _check_stats(root: Path, sk: Skeleton, problems: list[Problem]) -> None:
    for name in ("Mean.npy", "Std.npy"):
        try:
            arr = load_array(root / name)
        except CorpusError as err:
            problems.append(Problem("error", str(root / name), str(err)))
            continue
        if arr.shape != (sk.feature_dim,):
            problems.append(Problem("error", str(root / name), f"shape {list(arr.shape)}, expected [{sk.feature_dim}]"))
        elif not np.isfinite(arr).all():
            problems.append(Problem("error", str(root / name), "contains NaN/Inf"))
        elif name == "Std.npy" and (arr <= 0).any():
            problems.append(Problem("error", str(root / name), f"{int((arr <= 0).sum())} entries are <= 0"))


def _check_motion(root: Path, name: str, sk: Skeleton, problems: list[Problem]) -> int | None:
    path = root / "new_joint_vecs" / f"{name}.npy"
    if not path.is_file():
        problems.append(Problem("error", str(path), "listed in a split file but missing"))
        return None
    try:
        feats = load_array(path)
    except CorpusError as err:
        problems.append(Problem("error", str(path), str(err).removeprefix(f"{path} ")))
        return None
    if feats.ndim != 2 or feats.shape[1] != sk.feature_dim:
        problems.append(Problem("error", str(path),
                                f"shape {list(feats.shape)}, expected [T, {sk.feature_dim}] ({sk.name})"))
        return None
    bad = ~np.isfinite(feats).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        problems.append(Problem("error", str(path), f"NaN/Inf in {len(rows)} frame(s), first at frame {rows[0]}"))
    if not sk.min_frames <= len(feats) < 200:
        problems.append(Problem("warning", str(path),
                                f"{len(feats)} frames: outside [{sk.min_frames}, 200), the loader skips it"))
    return len(feats)


def _check_texts(root: Path, name: str, length: int | None, sk: Skeleton, problems: list[Problem]) -> None:
    path = root / "texts" / f"{name}.txt"
    if not path.is_file():
        problems.append(Problem("error", str(path), "captions missing for a listed motion"))
        return
    lines = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    if not lines:
        problems.append(Problem("error", str(path), "no captions"))
    for lineno, line in enumerate(lines, 1):
        try:
            cap = parse_caption_line(line)
        except ValueError as err:
            problems.append(Problem("error", f"{path}:{lineno}", str(err)))
            continue
        if length is not None and not cap.whole_clip and int(cap.end * sk.fps) > length + 1:
            problems.append(Problem("warning", f"{path}:{lineno}",
                                    f"crop ends at frame {int(cap.end * sk.fps)}, past the motion's {length}"))


def check_corpus(root: str | Path, skeleton: str | None = None) -> list[Problem]:
    root = Path(root)
    if not root.is_dir():
        return [Problem("error", str(root), "not a directory")]
    problems: list[Problem] = []
    sk = _expected_skeleton(root, problems, skeleton)
    if sk is None:
        return problems
    _check_stats(root, sk, problems)
    for sub in ("new_joint_vecs", "texts"):
        if not (root / sub).is_dir():
            problems.append(Problem("error", str(root / sub), "folder missing"))
    seen: set[str] = set()
    for split in SPLITS:
        path = root / f"{split}.txt"
        if not path.is_file():
            problems.append(Problem("error", str(path), "split file missing"))
            continue
        for name in (ln.strip() for ln in path.read_text().splitlines()):
            if not name or name in seen:
                continue
            seen.add(name)
            length = _check_motion(root, name, sk, problems)
            _check_texts(root, name, length, sk, problems)
    return problems
