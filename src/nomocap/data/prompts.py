"""Prompt sets for RL: captions from a corpus's texts, a TMR-style annotations.json, or a text file."""

from __future__ import annotations

from pathlib import Path

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
