"""The embedded corpus's motions rebuilt in another domain's style: how much of a cross-domain gap is style?

Each motion of a split is rebuilt from its own action spec and random stream (replayed from the corpus
writer's seed) once in its own style — which must reproduce the stored features, a check that the seed
is right — and once in the other domain's style with the same jitter factors. Scored by an evaluator,
the restyled set's FID to the real motions is the floor of a model that gets every caption's content
right but keeps the other domain's style: what prompt-only RL cannot remove unless its reward sees style.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from nomocap.data.humanml import CorpusError, load_array, read_split
from nomocap.data.synth.actions import Style
from nomocap.data.synth.generate import DOMAINS, build_motion, sample_spec
from nomocap.motion.features import joints_to_features, mirror_features
from nomocap.motion.skeleton import T2M


def _swap_style(style: Style, own: Style, other: Style) -> Style:
    """``other`` with the jitter factors that turned ``own`` into ``style`` (a zero field stays as ``other``'s)."""
    return Style(**{f: getattr(other, f) * (getattr(style, f) / v if (v := getattr(own, f)) else 1.0)
                    for f in style.__dict__})


def restyled_split(root: str | Path, style_domain: str, split: str = "test", seed: int = 0,
                   ) -> tuple[list[str], list[np.ndarray]]:
    """Names and features ``[T, 263]`` of ``split``'s motions rebuilt in ``style_domain``'s style.

    Raises ``CorpusError`` when ``root`` is not an embedded corpus made with ``seed``.
    """
    root = Path(root)
    if style_domain not in DOMAINS:
        raise CorpusError(f"unknown style domain {style_domain!r}: choose one of {sorted(DOMAINS)}")
    names = read_split(root, split)
    out_names, out_feats = [], []
    for name in names:
        meta_file = root / "meta" / f"{name}.json"
        if not meta_file.exists():
            raise CorpusError(f"{meta_file} is missing: restyling needs an embedded corpus (nomocap data synth)")
        meta = json.loads(meta_file.read_text())
        dom = DOMAINS[meta["domain"]]
        rng = np.random.default_rng([seed, ord(dom.name), int(name.lstrip("M"))])  # the writer's stream
        style = dom.style.jitter(rng)
        for _ in range(20):  # the writer's redraw of sequences too long for 196 frames
            spec = sample_spec(dom, rng)
            state = copy.deepcopy(rng.bit_generator.state)
            joints = build_motion(spec, style, rng)
            if not spec.truncated:
                break
        own = joints_to_features(joints, T2M)
        stored = load_array(root / "new_joint_vecs" / f"{name}.npy")
        replay = np.random.default_rng()
        replay.bit_generator.state = state
        feats = joints_to_features(build_motion(spec, _swap_style(style, dom.style, DOMAINS[style_domain].style),
                                                replay), T2M)
        if name.startswith("M"):
            own, feats = mirror_features(own), mirror_features(feats)
        if own.shape != stored.shape or not np.allclose(own, stored, atol=1e-4):
            raise CorpusError(f"{root}: motion {name} is not what `nomocap data synth --seed {seed}` makes; pass the "
                              f"--seed the corpus was made with")
        out_names.append(name)
        out_feats.append(feats.astype(np.float32))
    return out_names, out_feats
