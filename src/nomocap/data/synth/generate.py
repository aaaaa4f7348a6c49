"""Sample motion specs, build them into joint motions, and write a corpus in the HumanML3D layout.

Two domains: ``h`` (HumanML3D-like: more varied actions, longer clips, bigger strides and arm swing)
and ``k`` (KIT-like: mostly locomotion, shorter clips, quicker shorter steps, upright posture, small
jumps, "A human ..." phrasing). Each motion gets three captions and a mirrored ``M`` twin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from nomocap.data.synth import body
from nomocap.data.synth.actions import KINDS, Clip, Style, apply_posture
from nomocap.data.synth.captions import compose
from nomocap.motion.skeleton import T2M

MAX_JOINT_FRAMES = T2M.max_frames + 1  # features lose one frame
MIN_JOINT_FRAMES = T2M.min_frames + 1
BLEND = 8  # frames of cross-fade between sequenced clips


@dataclass(frozen=True)
class Domain:
    name: str
    style: Style
    kind_weights: dict[str, float]
    p_sequence: float
    p_overlay: float
    default_size: int


_H_WEIGHTS = {"stand": 1, "walk": 5, "run": 2, "circle": 3, "turn": 3, "sidestep": 2, "jump": 3, "kick": 2,
              "wave": 4, "raise": 3, "clap": 2, "punch": 2, "jumping_jacks": 2, "pick_up": 2, "put_down": 2,
              "throw": 2, "carry": 2, "squat": 2, "sit": 2, "kneel": 2, "one_leg": 2, "lean": 2}
_K_WEIGHTS = {**_H_WEIGHTS, "walk": 10, "run": 3, "circle": 2, "turn": 3, "wave": 3, "clap": 1, "jumping_jacks": 1,
              "sit": 1, "lean": 1, "kick": 2}

DOMAINS = {
    "h": Domain("h", Style(), _H_WEIGHTS, p_sequence=0.3, p_overlay=0.2, default_size=4000),
    "k": Domain("k", Style(stride=16.0, cadence=2.25, arm_swing=5.0, elbow=30.0, knee_lift=42.0, jump_height=0.14,
                           lean=-4.0, amplitude=0.75, tempo=1.3, knee_bend=10.0, arm_carriage=12.0),
                _K_WEIGHTS, p_sequence=0.15, p_overlay=0.1, default_size=1200),
}


@dataclass
class Segment:
    kind: str
    variant: str
    count: int = 1
    speed: float = 1.0

    @property
    def action(self) -> str:
        return KINDS[self.kind].action_name(self.variant)


@dataclass
class MotionSpec:
    segments: list[Segment]
    overlay: Segment | None = None
    spans: list[tuple[int, int]] = field(default_factory=list)  # joint frames of each segment, filled on build
    truncated: bool = False  # the clips did not fit in the longest allowed motion



def _pick(rng: np.random.Generator, weights: dict[str, float], allowed: Callable[[str], bool] = lambda k: True) -> str:
    names = [k for k in weights if allowed(k)]
    p = np.array([weights[k] for k in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _segment(kind: str, rng: np.random.Generator) -> Segment:
    k = KINDS[kind]
    speed = float(rng.choice([0.75, 1.0, 1.0, 1.3])) if kind in ("walk", "wave", "clap") else 1.0
    return Segment(kind, str(rng.choice(k.variants)), int(rng.choice(k.counts)), speed)


def sample_spec(domain: Domain, rng: np.random.Generator, exclude_kinds: frozenset[str] = frozenset()) -> MotionSpec:
    ok = lambda k: k not in exclude_kinds  # noqa: E731
    first = _pick(rng, domain.kind_weights, ok)
    spec = MotionSpec([_segment(first, rng)])
    roll = rng.random()
    if roll < domain.p_overlay and KINDS[first].layer == "base":
        spec.overlay = _segment(_pick(rng, domain.kind_weights, lambda k: ok(k) and KINDS[k].layer == "overlay"), rng)
    elif roll < domain.p_overlay + domain.p_sequence:
        turned = KINDS[first].turns
        second = _pick(rng, domain.kind_weights,
                       lambda k: ok(k) and k != first and not (turned and KINDS[k].turns) and k != "stand")
        spec.segments.append(_segment(second, rng))
    return spec


def _crossfade(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Concatenate two tracks, easing from ``a``'s end into ``b``'s start over ``BLEND`` frames."""
    out = np.concatenate([a, b])
    cut = len(a)
    lo, hi = max(cut - BLEND // 2, 0), min(cut + BLEND // 2, len(out) - 1)
    w = np.linspace(0, 1, hi - lo + 1)
    w = (w * w * (3 - 2 * w)).reshape((-1,) + (1,) * (out.ndim - 1))
    out[lo : hi + 1] = (1 - w) * out[lo] + w * out[hi]
    return out


def _layer(base: Clip, over: Clip) -> Clip:
    n = min(len(over), len(base))
    start = (len(base) - n) // 2
    weight = np.zeros(len(base))
    ramp = np.clip(np.minimum(np.arange(n), n - 1 - np.arange(n)) / 8.0, 0, 1)
    weight[start : start + n] = ramp
    joints = sorted(over.owned)
    mixed = base.angles.copy()
    seg = slice(start, start + n)
    mixed[seg, joints] = (1 - weight[seg, None, None]) * base.angles[seg][:, joints] + \
        weight[seg, None, None] * over.angles[:n][:, joints]
    return Clip(mixed, base.heading, base.lift, base.drift, base.pin)


def build_motion(spec: MotionSpec, style: Style, rng: np.random.Generator) -> np.ndarray:
    """Joints ``[T, 22, 3]`` (metres, Y up) for a spec; fills ``spec.spans``."""
    clips = [KINDS[s.kind].build(s.variant, s.count, s.speed, style, rng) for s in spec.segments]
    if spec.overlay is not None:
        clips[0] = _layer(clips[0], KINDS[spec.overlay.kind].build(spec.overlay.variant, spec.overlay.count,
                                                                   spec.overlay.speed, style, rng))
    tracks = {"angles": [], "heading": [], "lift": [], "drift": [], "pin": []}
    spec.spans = []
    start = int(rng.integers(2, 8))  # a few still frames before and after, as in captured clips
    length = start
    for clip in clips:
        spec.spans.append((length, length + len(clip)))
        length += len(clip)
    for key in tracks:
        parts = [getattr(c, key) for c in clips]
        if key == "heading":
            offsets = np.cumsum([0.0] + [p[-1] for p in parts[:-1]])
            parts = [p + o for p, o in zip(parts, offsets)]
        track = parts[0]
        for part in parts[1:]:
            track = _crossfade(track, part) if key == "angles" else np.concatenate([track, part])
        tracks[key] = track
    tail = int(rng.integers(2, 8))
    for key, track in tracks.items():
        hold = track[:1] if key not in ("lift", "drift") else np.zeros_like(track[:1])
        end = track[-1:] if key not in ("lift", "drift") else np.zeros_like(track[-1:])
        if key == "pin":
            hold, end = np.full(1, -1), np.full(1, -1)
        track = np.concatenate([np.repeat(hold, start, 0), track, np.repeat(end, tail, 0)])
        if len(track) > MAX_JOINT_FRAMES:
            track = track[:MAX_JOINT_FRAMES]
            spec.truncated = True
        if len(track) < MIN_JOINT_FRAMES:
            track = np.concatenate([track, np.repeat(end, MIN_JOINT_FRAMES - len(track), 0)])
        tracks[key] = track
    angles, heading, lift, drift = tracks["angles"], tracks["heading"], tracks["lift"], tracks["drift"]
    apply_posture(angles, style)
    world = body.ground(body.pose(angles), heading + rng.uniform(-np.pi, np.pi), lift, drift, tracks["pin"])
    return world


def captions_for(spec: MotionSpec, domain: str, rng: np.random.Generator, n: int = 3) -> list[str]:
    clauses = [(s.kind, s.variant, s.count) for s in spec.segments]
    overlay = (spec.overlay.kind, spec.overlay.variant, spec.overlay.count) if spec.overlay else None
    out: list[str] = []
    for _ in range(n * 4):
        cap = compose(clauses, overlay, domain, rng)
        if cap not in out:
            out.append(cap)
        if len(out) == n:
            break
    return out
