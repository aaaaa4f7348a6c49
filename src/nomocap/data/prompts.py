"""Prompt sets for RL: captions from a corpus's texts, a TMR-style annotations.json, or a text file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nomocap.data.humanml import SPLITS, CorpusError, load_annotation_splits, read_captions, read_split


def prompts_by_split(source: str | Path) -> dict[str, dict[str, list[str]]]:
    """``{split: {id: [caption, ...]}}`` from an annotations.json or a corpus folder's ``texts/``."""
    source = Path(source)
    if source.is_file() and source.suffix == ".json":
        return load_annotation_splits(source)
    if source.is_dir():
        out: dict[str, dict[str, list[str]]] = {}
        for split in SPLITS:
            if (source / f"{split}.txt").is_file():
                out[split] = {i: [c.text for c in read_captions(source / "texts" / f"{i}.txt")]
                              for i in read_split(source, split)}
        return out
    raise CorpusError(f"{source}: expected an annotations .json file or a corpus folder")


def read_prompt_file(path: str | Path) -> list[str]:
    """One prompt per line; blank lines and ``#`` comments ignored. An empty file is an error."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise CorpusError(f"{path}: cannot read prompt file ({err})") from None
    prompts = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not prompts:
        raise CorpusError(f"{path}: no prompts (one per line expected)")
    return prompts


@dataclass
class Prompt:
    text: str
    frames: int  # the length to generate (a multiple of 4)


def _frames(seconds_or_frames: float, fps: float | None, max_frames: int = 196, min_frames: int = 40) -> int:
    # Rounded first: a product such as 0.57 s x 100 fps is 56.99999999999999 in floats, one frame short.
    frames = round(seconds_or_frames * fps, 6) if fps is not None else seconds_or_frames
    return int(min(max_frames, max(min_frames, frames)) // 4 * 4)


def prompts_from_corpus(root: str | Path, split: str = "train", category: str | None = None) -> list[Prompt]:
    """Each caption of a split with the length of its motion (prompts only: the motion is not used)."""
    from nomocap.data.categories import check_category, motion_category
    from nomocap.data.humanml import load_corpus

    corpus = load_corpus(root, split)
    wanted = check_category(category) if category else None
    out = []
    for item in corpus.items:
        captions = [c.text for c in item.texts]
        if wanted is None or motion_category(captions) == wanted:
            out += [Prompt(c, _frames(item.length, None)) for c in captions]
    if not out:
        raise CorpusError(f"{root}: no {split} captions" + (f" of category {wanted}" if wanted else ""))
    return out


def prompts_from_annotations(path: str | Path, split: str = "train", category: str | None = None,
                             fps: float = 20.0) -> list[Prompt]:
    """Prompts from a TMR-style annotations.json (e.g. the real KIT-ML texts), lengths from the segments."""
    import json

    from nomocap.data.categories import caption_category, check_category

    path = Path(path)
    wanted = check_category(category) if category else None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CorpusError(f"{path}: cannot read annotations ({err}); expected a TMR-style annotations.json") from None
    if not isinstance(data, dict):
        raise CorpusError(f"{path}: expected a JSON object of ids, each with its annotations (TMR style)")
    ids = read_split(path.parent, split) if (path.parent / f"{split}.txt").is_file() else list(data)
    out = []
    for key in ids:
        for ann in data.get(key, {}).get("annotations", []):
            text = str(ann.get("text", "")).strip()
            if text and (wanted is None or caption_category(text) == wanted):
                out.append(Prompt(text, _frames(float(ann.get("end", 6.0)) - float(ann.get("start", 0.0)), fps)))
    if not out:
        raise CorpusError(f"{path}: no {split} prompts" + (f" of category {wanted}" if wanted else ""))
    return out


def write_annotations(root: str | Path, out: str | Path) -> dict[str, int]:
    """Export a corpus's captions as a TMR-style ``annotations.json`` with the split files beside it.

    Each caption keeps the length of its (cropped) motion as ``end`` in seconds, so
    ``prompts_from_annotations`` gives back what ``prompts_from_corpus`` gives, in the same order,
    without the motions: what fine-tuning needs on a machine that has only the prompts.
    Returns the number of captions per split.
    """
    import json

    from nomocap.checkpoint import atomic_write_text
    from nomocap.data.humanml import load_corpus

    out = Path(out)
    if (out / "annotations.json").exists():
        raise CorpusError(f"{out}/annotations.json exists; remove it or choose another --out")
    data: dict[str, dict] = {}
    counts: dict[str, int] = {}
    for split in SPLITS:
        if not (Path(root) / f"{split}.txt").is_file():
            continue
        corpus = load_corpus(root, split)
        fps = corpus.skeleton.fps
        ids: list[str] = []
        for item in corpus.items:
            key = item.name.split("#")[0]
            if key not in data:
                data[key] = {"annotations": []}
                ids.append(key)
            data[key]["annotations"] += [{"text": c.text, "start": 0.0, "end": item.length / fps} for c in item.texts]
        counts[split] = sum(len(item.texts) for item in corpus.items)
        atomic_write_text(out / f"{split}.txt", "\n".join(ids) + "\n")
    atomic_write_text(out / "annotations.json", json.dumps(data, indent=1))
    return counts


def prompts_from_file(path: str | Path, frames: int = 120) -> list[Prompt]:
    return [Prompt(t, frames) for t in read_prompt_file(path)]


def load_prompts(source: str | Path, split: str = "train", category: str | None = None,
                 fps: float = 20.0) -> list[Prompt]:
    """A corpus folder, an annotations.json (its seconds read at ``fps``: the model's frame rate), or a text
    file of prompts (one per line)."""
    source = Path(source)
    if source.is_dir():
        return prompts_from_corpus(source, split, category)
    if source.suffix == ".json":
        return prompts_from_annotations(source, split, category, fps)
    if category:
        raise CorpusError("--category needs a corpus folder or an annotations.json, not a plain prompt file")
    return prompts_from_file(source)


def replay_count(n: int, replay_fraction: float, replay: list[Prompt] | None) -> int:
    """How many of ``n`` drawn prompts ``draw_with_replay`` takes from ``replay`` (none if it is empty)."""
    return int(round(replay_fraction * n)) if replay else 0


def draw_with_replay(prompts: list[Prompt], replay: list[Prompt], n: int, replay_fraction: float,
                     rng: np.random.Generator) -> list[Prompt]:
    """``n`` prompts, a ``replay_fraction`` of them from ``replay`` (none if it is empty), the rest from
    ``prompts`` and before them; without replacement unless a pool is smaller than its share."""
    n_replay = replay_count(n, replay_fraction, replay)
    own = n - n_replay
    picks = [prompts[i] for i in rng.choice(len(prompts), own, replace=len(prompts) < own)]
    return picks + [replay[i] for i in rng.choice(len(replay), n_replay, replace=len(replay) < n_replay)]
