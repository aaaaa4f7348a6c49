"""The embedded corpus's motions rebuilt in another domain's style: how much of a cross-domain gap is style?

Each motion of a split is rebuilt from its own action spec and random stream (replayed from the corpus
writer's seed) once in its own style — which must reproduce the stored features, a check that the seed
is right — and once in the other domain's style with the same jitter factors. Scored by an evaluator,
the restyled set's FID to the real motions is the floor of a model that gets every caption's content
right but keeps the other domain's style: what prompt-only RL cannot remove unless its reward sees style.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nomocap.data.humanml import CorpusError, load_array, read_split
from nomocap.data.synth.actions import Style
from nomocap.data.synth.corpus import draw_motion
from nomocap.data.synth.generate import DOMAINS, build_motion
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
    rebuilt: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # a motion and its mirrored twin share one rebuild
    out_names, out_feats = [], []
    for name in names:
        meta_file = root / "meta" / f"{name}.json"
        if not meta_file.exists():
            raise CorpusError(f"{meta_file} is missing: restyling needs an embedded corpus (nomocap data synth)")
        index = int(name.lstrip("M"))
        if index not in rebuilt:
            dom = DOMAINS[json.loads(meta_file.read_text())["domain"]]
            _, style, spec, joints, state = draw_motion(dom, seed, index)
            replay = np.random.default_rng()
            replay.bit_generator.state = state
            swapped = build_motion(spec, _swap_style(style, dom.style, DOMAINS[style_domain].style), replay)
            rebuilt[index] = joints_to_features(joints, T2M), joints_to_features(swapped, T2M)
        own, feats = rebuilt[index]
        stored = load_array(root / "new_joint_vecs" / f"{name}.npy")
        if name.startswith("M"):
            own, feats = mirror_features(own), mirror_features(feats)
        if own.shape != stored.shape or not np.allclose(own, stored, atol=1e-4):
            raise CorpusError(f"{root}: motion {name} is not what `nomocap data synth --seed {seed}` makes; pass the "
                              f"--seed the corpus was made with")
        out_names.append(name)
        out_feats.append(feats.astype(np.float32))
    return out_names, out_feats
