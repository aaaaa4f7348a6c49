"""Reader for the official HumanML3D / KIT-ML folder layout, and a checker that lists what is wrong with one.

Layout::

    ROOT/new_joint_vecs/ID.npy   features [T, 263] (t2m) or [T, 251] (KIT)
    ROOT/new_joints/ID.npy       joints [T, J, 3] (optional)
    ROOT/texts/ID.txt            one caption per line: ``caption#tok/POS tok/POS ...#start#end``
    ROOT/{train,val,test}.txt    ids, one per line
    ROOT/Mean.npy, ROOT/Std.npy  per-dimension statistics of the training features

A caption's ``start#end`` (seconds) crops the motion; ``0.0#0.0`` means the whole clip. As in the
reference loaders, motions outside the length range are skipped (t2m: 40-199 frames, KIT: 24-199).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nomocap.motion.features import Normalizer
from nomocap.motion.skeleton import Skeleton, get_skeleton, skeleton_for_feature_dim

SPLITS = ("train", "val", "test")
UNIT_LENGTH = 4  # motions are cropped to multiples of 4 frames (the evaluator downsamples by 4)


def crop_to_units(features: np.ndarray) -> np.ndarray:
    """``features`` cut to a multiple of ``UNIT_LENGTH`` frames (what the evaluation protocol scores)."""
    return features[: (len(features) // UNIT_LENGTH) * UNIT_LENGTH]


class CorpusError(ValueError):
    """A corpus file is missing or malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class Caption:
    text: str
    tokens: tuple[str, ...]
    start: float
    end: float

    @property
    def whole_clip(self) -> bool:
        return self.start == 0.0 and self.end == 0.0


@dataclass
class MotionItem:
    name: str  # the file id, with a crop suffix ``ID#start#end`` for cropped captions
    features: np.ndarray  # [T, D]
    texts: list[Caption] = field(default_factory=list)

    @property
    def length(self) -> int:
        return len(self.features)


@dataclass
class Corpus:
    root: Path
    split: str
    skeleton: Skeleton
    items: list[MotionItem]
    normalizer: Normalizer
    skipped: dict[str, str] = field(default_factory=dict)  # name -> reason

    def __len__(self) -> int:
        return len(self.items)

    def captions(self) -> list[str]:
        return [c.text for item in self.items for c in item.texts]


def parse_caption_line(line: str) -> Caption:
    """Parse ``caption#tokens#start#end``; raises ``ValueError`` describing what is wrong."""
    parts = line.rstrip("\n").split("#")
    if len(parts) != 4:
        raise ValueError(f"expected 4 '#'-separated fields (caption#tokens#start#end), found {len(parts)}")
    text, tokens, start_s, end_s = parts
    if not text.strip():
        raise ValueError("empty caption")
    try:
        start, end = float(start_s or 0.0), float(end_s or 0.0)
    except ValueError:
        raise ValueError(f"start/end are not numbers: {start_s!r}, {end_s!r}") from None
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end < 0:
        raise ValueError(f"start/end must be finite and >= 0, got {start}, {end}")
    if end and end <= start:
        raise ValueError(f"end {end} is not after start {start}")
    return Caption(text.strip(), tuple(tokens.split()), start, end)


def read_captions(path: Path) -> list[Caption]:
    caps = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            caps.append(parse_caption_line(line))
        except ValueError as err:
            raise CorpusError(f"{path}:{lineno}: {err}") from None
    return caps


def read_split(root: Path, split: str) -> list[str]:
    path = Path(root) / f"{split}.txt"
    if not path.is_file():
        raise CorpusError(f"{path} not found: a corpus needs {', '.join(s + '.txt' for s in SPLITS)} "
                          "(one motion id per line)")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def load_array(path: Path) -> np.ndarray:
    """``np.load`` without pickles, with errors that name the file."""
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CorpusError(f"{path} not found") from None
    except (ValueError, OSError, EOFError) as err:
        raise CorpusError(f"{path} is not a readable .npy array ({err}); regenerate or remove it") from None


def load_stats(root: Path) -> Normalizer:
    root = Path(root)
    mean, std = load_array(root / "Mean.npy"), load_array(root / "Std.npy")
    try:
        return Normalizer(mean, std)
    except ValueError as err:
        raise CorpusError(f"{root}/Mean.npy, Std.npy: {err}") from None


def infer_skeleton(root: Path) -> Skeleton:
    mean = load_array(Path(root) / "Mean.npy")
    try:
        return skeleton_for_feature_dim(int(mean.shape[-1]))
    except ValueError as err:
        raise CorpusError(f"{root}/Mean.npy: {err}") from None


def feature_stats(features: list[np.ndarray], skeleton: Skeleton,
                  feet_bias: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """``Mean.npy`` / ``Std.npy`` as HumanML3D computes them: per-dimension mean; the std averaged within
    each part (root yaw rate, root xz velocity, root height, ric, rot, vel, feet), feet divided by 5."""
    data = np.concatenate(features, axis=0).astype(np.float64)
    mean, std = data.mean(axis=0), data.std(axis=0)
    sl = skeleton.feature_slices
    parts = [slice(0, 1), slice(1, 3), slice(3, 4), sl["ric"], sl["rot"], sl["vel"]]
    for part in parts:
        std[part] = std[part].mean()
    std[sl["feet"]] = std[sl["feet"]].mean() / feet_bias
    return mean.astype(np.float32), np.maximum(std, 1e-6).astype(np.float32)


def corpus_gaussian(root: str | Path, normalizer: Normalizer | None = None,
                    split: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of every feature frame of a corpus split (normalised when a normalizer is given)."""
    root = Path(root)
    feats = np.concatenate([load_array(root / "new_joint_vecs" / f"{n}.npy") for n in read_split(root, split)])
    if normalizer is not None:
        feats = normalizer.normalize(feats)
    return feats.mean(axis=0).astype(np.float64), np.cov(feats.astype(np.float64), rowvar=False)


def crop_to_unit(length: int, unit: int = UNIT_LENGTH) -> int:
    return (length // unit) * unit


def _crop(features: np.ndarray, cap: Caption, fps: float) -> np.ndarray:
    return features[int(cap.start * fps): int(cap.end * fps)]


def load_corpus(root: str | Path, split: str = "train", skeleton: str | Skeleton | None = None,
                max_items: int | None = None) -> Corpus:
    """Load one split. Whole-clip captions share one item; each crop becomes an item of its own."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"{root} is not a directory; point --data at a HumanML3D/KIT-ML style corpus")
    sk = get_skeleton(skeleton) if skeleton is not None else infer_skeleton(root)
    normalizer = load_stats(root)
    if normalizer.mean.shape[0] != sk.feature_dim:
        raise CorpusError(f"{root}/Mean.npy has width {normalizer.mean.shape[0]}, but skeleton {sk.name!r} "
                          f"needs {sk.feature_dim}")
    items: list[MotionItem] = []
    skipped: dict[str, str] = {}
    for name in read_split(root, split):
        feats = load_array(root / "new_joint_vecs" / f"{name}.npy")
        if feats.ndim != 2 or feats.shape[1] != sk.feature_dim:
            raise CorpusError(f"{root}/new_joint_vecs/{name}.npy has shape {list(feats.shape)}, expected "
                              f"[T, {sk.feature_dim}]; run `nomocap data check {root}`")
        if not np.isfinite(feats).all():
            raise CorpusError(f"{root}/new_joint_vecs/{name}.npy contains NaN/Inf; "
                              f"run `nomocap data check {root}`")
        whole: list[Caption] = []
        crops: list[MotionItem] = []
        for cap in read_captions(root / "texts" / f"{name}.txt"):
            if cap.whole_clip:
                whole.append(cap)
                continue
            crop = _crop(feats, cap, sk.fps)
            crop_name = f"{name}#{cap.start:g}#{cap.end:g}"
            if sk.min_frames <= len(crop) < 200:
                crops.append(MotionItem(crop_name, crop.astype(np.float32), [cap]))
            else:
                skipped[crop_name] = f"crop of {len(crop)} frames outside [{sk.min_frames}, 200)"
        if whole:
            if sk.min_frames <= len(feats) < 200:
                items.append(MotionItem(name, feats.astype(np.float32), whole))
            else:
                skipped[name] = f"{len(feats)} frames outside [{sk.min_frames}, 200)"
        items.extend(crops)
        if max_items is not None and len(items) >= max_items:
            break
    return Corpus(root, split, sk, items, normalizer, skipped)


def load_annotations(path: str | Path, ids: list[str] | None = None) -> dict[str, list[str]]:
    """Read a TMR-style ``annotations.json`` (``{id: {path, duration, annotations: [{text, ...}]}}``).

    Returns ``{id: [caption, ...]}``, restricted to ``ids`` when given. Prompts only: no motion.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise CorpusError(f"{path}: not a readable annotations JSON ({err})") from None
    if not isinstance(data, dict):
        raise CorpusError(f"{path}: expected an object mapping ids to {{annotations: [...]}}")
    out: dict[str, list[str]] = {}
    for key in ids if ids is not None else data:
        entry = data.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("annotations"), list):
            continue
        texts = [a.get("text", "").strip() for a in entry["annotations"] if isinstance(a, dict)]
        texts = [t for t in texts if t]
        if texts:
            out[key] = texts
    return out


def load_annotation_splits(path: str | Path) -> dict[str, dict[str, list[str]]]:
    """Annotations per split, using the ``{train,val,test}.txt`` beside the JSON (all ids if absent)."""
    path = Path(path)
    splits = {s: path.parent / f"{s}.txt" for s in SPLITS}
    if not any(p.is_file() for p in splits.values()):
        return {"all": load_annotations(path)}
    return {s: load_annotations(path, read_split(path.parent, s)) for s, p in splits.items() if p.is_file()}
