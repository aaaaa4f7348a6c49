"""Write the embedded corpus to disk in exactly the HumanML3D layout (plus ``meta/`` ground truth)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nomocap.atomic import folder_in_place
from nomocap.data.humanml import CorpusError, feature_stats
from nomocap.data.synth.actions import KINDS, Style
from nomocap.data.synth.captions import mirror_caption
from nomocap.data.synth.generate import DOMAINS, Domain, MotionSpec, build_motion, captions_for, sample_spec
from nomocap.motion.features import features_to_joints, joints_to_features, mirror_features
from nomocap.motion.skeleton import T2M

SPLIT_FRACTIONS = (("train", 0.80), ("val", 0.05), ("test", 0.15))
_MIRROR_VARIANT = {"left": "right", "right": "left", "clockwise": "counterclockwise",
                   "counterclockwise": "clockwise"}
_DETERMINERS = {"a", "an", "the", "his", "her", "their", "its", "both", "one"}
_ADPOSITIONS = {"in", "on", "to", "with", "from", "of", "at", "above", "into", "off", "before", "after", "while"}
_ADVERBS = {"forward", "forwards", "backward", "backwards", "clockwise", "counterclockwise", "counter-clockwise",
            "anticlockwise", "then", "up", "down", "sideways", "still", "once", "twice", "slowly", "quickly", "left",
            "right", "around", "ahead", "afterwards", "first"}


def tokenize(caption: str) -> str:
    """HumanML3D-style ``word/POS`` tokens (a small closed-class tagger; content words default to NOUN/VERB)."""
    out = []
    for word in caption.lower().replace(",", " ").replace(".", " ").split():
        if word in ("and", "or"):
            tag = "CCONJ"
        elif word in _DETERMINERS:
            tag = "DET"
        elif word in _ADPOSITIONS:
            tag = "ADP"
        elif word in _ADVERBS:
            tag = "ADV"
        elif word.endswith(("s", "ing")) and len(word) > 3:
            tag = "VERB"
        else:
            tag = "NOUN"
        out.append(f"{word}/{tag}")
    return " ".join(out)


def _meta(spec: MotionSpec, domain: str, style: dict, mirror: bool) -> dict:
    def seg(s, span=None):
        variant = _MIRROR_VARIANT.get(s.variant, s.variant) if mirror else s.variant
        d = {"kind": s.kind, "variant": variant, "action": KINDS[s.kind].action_name(variant), "count": s.count,
             "speed": s.speed}
        if span is not None:
            d["start"], d["end"] = span
        return d

    segments = [seg(s, span) for s, span in zip(spec.segments, spec.spans)]
    overlay = seg(spec.overlay) if spec.overlay else None
    parts = segments + ([overlay] if overlay else [])
    return {
        "actions": [p["action"] for p in parts],
        "categories": sorted({KINDS[p["kind"]].family for p in parts}),
        "primitives": sorted({prim for p in parts for prim in KINDS[p["kind"]].primitives}),
        "segments": segments,
        "overlay": overlay,
        "domain": domain,
        "mirror": mirror,
        "style": style,
    }


def _is_corpus(path: Path) -> bool:
    return path.exists() and any((path / n).exists() for n in ("Mean.npy", "new_joint_vecs", "texts", "train.txt"))


def synthesize(out: str | Path, domain: str = "h", size: int | None = None, seed: int = 0, force: bool = False,
               on_progress: Callable[[int, int], None] | None = None) -> Path:
    """Generate ``size`` motions (plus their mirrored ``M`` twins) into ``out``; returns ``out``.

    The corpus is written to a temporary folder beside ``out`` and moved into place at the end, so an
    interrupted run never leaves a half-written corpus, and an existing one is only replaced with ``force``.
    """
    if domain not in DOMAINS:
        raise CorpusError(f"unknown domain {domain!r}: choose one of {sorted(DOMAINS)}")
    dom = DOMAINS[domain]
    size = dom.default_size if size is None else size
    if size < 1:
        raise CorpusError(f"--size must be at least 1, got {size}")
    out = Path(out)
    if _is_corpus(out) and not force:
        raise CorpusError(f"{out} already holds a corpus; pass --force to replace it")
    if out.exists() and not out.is_dir():
        raise CorpusError(f"{out} exists and is not a folder")
    with folder_in_place(out) as tmp:
        _write(tmp, dom, size, seed, on_progress)
    return out


def draw_motion(dom: Domain, seed: int, index: int) -> tuple[np.random.Generator, Style, MotionSpec, np.ndarray, dict]:
    """Motion ``index`` of the corpus made with ``seed``: its random stream (left where the captions continue
    it), style, spec, joints ``[T, 22, 3]``, and the stream's state just before the build (to rebuild it)."""
    rng = np.random.default_rng([seed, ord(dom.name), index])
    style = dom.style.jitter(rng)
    for _ in range(20):  # a sequence too long for 196 frames is drawn again rather than cut short
        spec = sample_spec(dom, rng)
        state = copy.deepcopy(rng.bit_generator.state)
        joints = build_motion(spec, style, rng)
        if not spec.truncated:
            break
    return rng, style, spec, joints, state


def _write(root: Path, dom, size: int, seed: int, on_progress) -> None:
    for sub in ("new_joints", "new_joint_vecs", "texts", "meta"):
        (root / sub).mkdir()
    order = np.random.default_rng([seed, ord(dom.name), 7]).permutation(size)
    bounds = np.cumsum([int(round(f * size)) for _, f in SPLIT_FRACTIONS])
    split_of = {}
    for idx, pos in enumerate(order):
        split_of[idx] = next(name for (name, _), b in zip(SPLIT_FRACTIONS, bounds) if pos < b) if pos < bounds[-1] \
            else "train"
    train_feats = []
    for i in range(size):
        rng, style, spec, joints, _ = draw_motion(dom, seed, i)
        feats = joints_to_features(joints, T2M)
        captions = captions_for(spec, dom.name, rng)
        name = f"{i:06d}"
        style_dict = {k: round(v, 4) for k, v in style.__dict__.items()}
        for prefix, f, caps, mirrored in ((name, feats, captions, False),
                                          ("M" + name, mirror_features(feats), [mirror_caption(c) for c in captions],
                                           True)):
            np.save(root / "new_joint_vecs" / f"{prefix}.npy", f.astype(np.float32))
            np.save(root / "new_joints" / f"{prefix}.npy", features_to_joints(f).astype(np.float32))
            (root / "texts" / f"{prefix}.txt").write_text(
                "".join(f"{c}#{tokenize(c)}#0.0#0.0\n" for c in caps), encoding="utf-8")
            meta = _meta(spec, dom.name, style_dict, mirrored)
            (root / "meta" / f"{prefix}.json").write_text(json.dumps(meta, sort_keys=True, indent=1) + "\n")
            if split_of[i] == "train":
                train_feats.append(f)
        if on_progress is not None:
            on_progress(i + 1, size)
    for split, _ in SPLIT_FRACTIONS:
        ids = [f"{p}{i:06d}" for i in range(size) if split_of[i] == split for p in ("", "M")]
        (root / f"{split}.txt").write_text("".join(f"{x}\n" for x in ids))
    (root / "all.txt").write_text("".join(f"{p}{i:06d}\n" for i in range(size) for p in ("", "M")))
    mean, std = feature_stats(train_feats or [feats], T2M)
    np.save(root / "Mean.npy", mean)
    np.save(root / "Std.npy", std)
