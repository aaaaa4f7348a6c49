"""Measurements made once per experiment folder: a re-run — another method beside the first, more bases or seeds,
a resume after a kill — reads what was already measured instead of sampling it again.

Each measurement is a JSON file under ``OUT/measured/``, named by a hash of what it measured: its kind, the
*content* of the model, evaluator and test split it used (a rebuilt stage is measured again, a moved folder is
not), and the protocol's settings. The code of the metrics is not part of the hash: after changing it, delete
``OUT/measured/`` to measure everything again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from nomocap.checkpoint import atomic_write_text
from nomocap.data.humanml import read_split
from nomocap.data.synth.judge import judge_batch
from nomocap.eval.precision import precision_confusion
from nomocap.eval.protocol import EvalSet, ProtocolConfig, evaluate, generate_joints, verdict_difference_over_bases
from nomocap.pipeline import MotionPipeline
from nomocap.retrieval.train import EmbeddingModel


class _Digest:
    def __init__(self):
        self._hash = hashlib.sha256()

    def add(self, *values: Any) -> _Digest:
        for value in values:
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu().contiguous()
                self._hash.update(f"{value.dtype}{tuple(value.shape)}".encode())
                self._hash.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
            elif isinstance(value, np.ndarray):
                self._hash.update(f"{value.dtype}{value.shape}".encode())
                self._hash.update(np.ascontiguousarray(value).tobytes())
            else:
                self._hash.update(json.dumps(value, sort_keys=True, default=str).encode())
        return self

    def add_file(self, path: Path) -> _Digest:
        self._hash.update(path.read_bytes())
        return self

    def hex(self) -> str:
        return self._hash.hexdigest()[:20]


def _module_digest(module: torch.nn.Module) -> _Digest:
    digest = _Digest()
    for name, tensor in sorted(module.state_dict().items()):
        digest.add(name, tensor)
    return digest


def pipeline_fingerprint(pipe: MotionPipeline) -> str:
    """Everything that decides what ``pipe`` samples from given noise: the weights (an adapter, scaled, is in
    them), the normalisation, the schedule, the text encoder, the representation, the adapter's gate, and the
    device kind (a GPU draws other numbers than the CPU)."""
    if type(pipe) is not MotionPipeline:  # a wrapper such as best-of-n samples otherwise than the model it wraps
        raise TypeError(f"a {type(pipe).__name__} has no fingerprint of its own; measure it without the cache")
    return _module_digest(pipe.model).add(pipe.normalizer.mean, pipe.normalizer.std, pipe.schedule.betas,
                                          pipe.encoder.name, pipe.representation.name, pipe.skeleton.name,
                                          pipe.adapter_min_timestep, pipe.device.type).hex()


def evaluator_fingerprint(evaluator: EmbeddingModel) -> str:
    return _module_digest(evaluator.model).add(evaluator.kind, evaluator.normalizer.mean, evaluator.normalizer.std,
                                               evaluator.encoder.name).hex()


def eval_set_fingerprint(eval_set: EvalSet) -> str:
    """The motions and captions an ``EvalSet`` holds (a category's subset differs from the whole split)."""
    digest = _Digest().add(eval_set.skeleton.name)
    for item, features in zip(eval_set.items, eval_set.features):
        digest.add(features, [c.text for c in item.texts])
    return digest.hex()


def split_fingerprint(data: str | Path, split: str) -> str:
    """The split's list and every motion and caption file it names, by content."""
    root, digest = Path(data), _Digest()
    for name in read_split(root, split):
        digest.add(name)
        for path in (root / "new_joint_vecs" / f"{name}.npy", root / "texts" / f"{name}.txt"):
            if path.is_file():
                digest.add_file(path)
    return digest.hex()


def fingerprint(value: Any) -> str:
    """A short hash of JSON-able settings or of a long list (e.g. every caption judged)."""
    return _Digest().add(value).hex()


class Measurements:
    """``get(kind, key, measure)``: ``measure()``'s JSON-able result, stored under ``folder`` the first time; and
    the experiments' measurements built on it (``row``, ``judged``, ``paired``), keyed by fingerprints."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._fingerprints: dict[int, tuple[object, str]] = {}

    def get(self, kind: str, key: dict, measure: Callable[[], Any]) -> Any:
        path = self.folder / f"{kind}-{fingerprint(key)}.json"
        if path.is_file():
            try:
                return json.loads(path.read_text())["value"]
            except (json.JSONDecodeError, KeyError, TypeError):  # edited by hand or cut short: measured again
                pass
        # Stored and returned alike as JSON reads them: a fresh run and a re-run see the same numbers and types.
        text = json.dumps({"kind": kind, "key": key, "value": measure()}, default=float)
        atomic_write_text(path, text + "\n")
        return json.loads(text)["value"]

    def _once(self, thing: object, fingerprint_of: Callable[[Any], str]) -> str:
        """A fingerprint computed once per object: a model (not trained meanwhile), a caption list judged for every
        model."""
        if id(thing) not in self._fingerprints:
            self._fingerprints[id(thing)] = (thing, fingerprint_of(thing))  # holding it keeps its id unique
        return self._fingerprints[id(thing)][1]

    def model(self, pipe: MotionPipeline) -> str:
        return self._once(pipe, pipeline_fingerprint)

    def row(self, evaluator: EmbeddingModel, protocol: ProtocolConfig, pipe: MotionPipeline | None,
            eval_set: EvalSet, console: Console | None = None) -> dict:
        """``evaluate``'s table row for ``pipe`` (None: the real motions) on ``eval_set``."""
        key = {"evaluator": self._once(evaluator, evaluator_fingerprint),
               "eval_set": self._once(eval_set, eval_set_fingerprint), "protocol": asdict(protocol),
               "model": "real motions" if pipe is None else self.model(pipe)}
        return self.get("table-row", key, lambda: evaluate(evaluator, None, protocol, pipe, console=console,
                                                           eval_set=eval_set))

    def judged(self, pipe: MotionPipeline, pairs: list[tuple[str, int]], generation: tuple,
               confusion: bool = False) -> dict:
        """One motion per ``(caption, frames)`` from the same noise for every model (``generate_joints``), judged:
        ``accuracy``, ``verdicts`` per caption, and with ``confusion`` the precision confusion counts."""

        def measure() -> dict:
            joints, captions = generate_joints(pipe, pairs, *generation), [p for p, _ in pairs]
            verdict = judge_batch(joints, captions)
            result = {"accuracy": verdict["accuracy"], "verdicts": verdict["verdicts"]}
            return result | ({"confusion": precision_confusion(joints, captions)} if confusion else {})

        key = {"model": self.model(pipe), "pairs": self._once(pairs, fingerprint), "generation": list(generation)}
        return self.get("precision" if confusion else "judge", key, measure)

    def paired(self, bases: list[MotionPipeline], tuned: list[list[MotionPipeline]], pairs: list[tuple[str, int]],
               generation: tuple, confusion: bool = False) -> tuple[list[dict], list[list[dict]], dict]:
        """``judged`` for each base and each of its fine-tuned models, and the paired difference
        (``verdict_difference_over_bases``)."""
        base = [self.judged(pipe, pairs, generation, confusion) for pipe in bases]
        models = [[self.judged(pipe, pairs, generation, confusion) for pipe in group] for group in tuned]
        return base, models, verdict_difference_over_bases(
            [(b["verdicts"], [m["verdicts"] for m in group]) for b, group in zip(base, models)])
