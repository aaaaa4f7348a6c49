"""The programmatic judge: does a motion do what its caption says? Decided from joint kinematics alone.

``judge_motion(joints, caption)`` parses the caption with the corpus grammar and checks each asserted
attribute (which hand waves, circle direction, forward or backward, turn direction, jump height and
count, squat depth, one-leg stance, reach to the floor...) on joints ``[T, 22, 3]`` in metres (Y up,
as in ``new_joints/``). It cannot be fooled by a learned model, so it is the project's hack-proof
check of generated motion. Directions are the performer's own: left is the side of the left joints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from nomocap.data.synth.captions import ParsedAction, parse_caption

SKELETON = "t2m"  # the only skeleton the judge reads: HumanML3D's 22 joints in metres at 20 fps
FPS = 20.0
PELVIS, L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE, NECK, HEAD = 0, 1, 2, 4, 5, 7, 8, 12, 15
L_FOOT, R_FOOT, L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST = 10, 11, 16, 17, 20, 21
SIDE = {"left": {"wrist": L_WRIST, "shoulder": L_SHOULDER, "knee": L_KNEE, "ankle": L_ANKLE},
        "right": {"wrist": R_WRIST, "shoulder": R_SHOULDER, "knee": R_KNEE, "ankle": R_ANKLE}}
STANDING_PELVIS = 0.95


def _other(side: str) -> str:
    return "right" if side == "left" else "left"


@dataclass
class Kinematics:
    """Measurements shared by the checks."""

    joints: np.ndarray  # [T, 22, 3], floor at y = 0
    heading: np.ndarray  # [T] unwrapped yaw, radians (positive: turned left)
    body: np.ndarray  # [T, 22, 3] joints relative to the pelvis in the body frame (x left, y up, z forward)
    forward_travel: float  # metres travelled towards the facing direction (backward travel not subtracted)
    backward_travel: float  # metres travelled away from the facing direction
    side_travel: float  # metres moved towards the performer's left (net)
    speed: np.ndarray  # [T-1] horizontal root speed, m/s

    @classmethod
    def of(cls, joints: np.ndarray) -> Kinematics:
        j = np.asarray(joints, dtype=np.float64).copy()
        if j.ndim != 3 or j.shape[1:] != (22, 3) or len(j) < 2:
            raise ValueError(f"judge expects joints [T >= 2, 22, 3], got {list(j.shape)}")
        if not np.isfinite(j).all():
            raise ValueError("joints contain NaN/Inf")
        j[..., 1] -= j[:, [L_ANKLE, R_ANKLE, L_FOOT, R_FOOT], 1].min()
        across = (j[:, R_HIP] - j[:, L_HIP]) + (j[:, R_SHOULDER] - j[:, L_SHOULDER])
        fwd = np.stack([across[:, 2], np.zeros(len(j)), -across[:, 0]], -1)  # up x across
        yaw = np.unwrap(np.arctan2(fwd[:, 0], fwd[:, 2]))
        yaw = uniform_filter1d(yaw, 5, mode="nearest")
        c, s = np.cos(yaw), np.sin(yaw)
        rel = j - j[:, :1] * np.array([1.0, 0.0, 1.0])
        body = np.stack([c[:, None] * rel[..., 0] - s[:, None] * rel[..., 2], rel[..., 1],
                         s[:, None] * rel[..., 0] + c[:, None] * rel[..., 2]], -1)
        step = np.diff(j[:, 0, [0, 2]], axis=0)
        forward = np.stack([s[:-1], c[:-1]], -1)
        left = np.stack([c[:-1], -s[:-1]], -1)
        along = uniform_filter1d((step * forward).sum(-1), int(FPS), mode="nearest")  # one stride
        return cls(j, yaw, body, float(np.maximum(along, 0).sum()), float(-np.minimum(along, 0).sum()),
                   float((step * left).sum()), np.linalg.norm(step, axis=-1) * FPS)

    def y(self, joint: int) -> np.ndarray:
        return self.joints[:, joint, 1]

    @property
    def turned(self) -> float:
        return float(self.heading[-1] - self.heading[0])


def _events(mask: np.ndarray, min_len: int = 1, min_gap: int = 2) -> int:
    """Number of runs of True at least ``min_len`` long (runs closer than ``min_gap`` merge)."""
    runs, count, gap, inside = 0, 0, min_gap, False
    for v in np.append(mask, False):
        if v:
            if not inside and gap < min_gap and runs:
                runs -= 1  # continues the previous run
            inside, count, gap = True, count + 1 if inside else 1, 0
        else:
            if inside and count >= min_len:
                runs += 1
            inside = False
            gap += 1
    return runs


def _longest(mask: np.ndarray) -> int:
    best = cur = 0
    for v in mask:
        cur = cur + 1 if v else 0
        best = max(best, cur)
    return best


def _airborne(k: Kinematics) -> np.ndarray:
    return k.joints[:, [L_ANKLE, R_ANKLE], 1].min(1) > 0.1  # ankle joints rest ~6 cm up


def _counted(result: dict[str, bool], act: ParsedAction, events: int) -> None:
    if act.count is not None:
        result["count"] = events == act.count


# ----------------------------------------------------------------------------------------- checks per kind


def _stand(k, a):
    moved = np.linalg.norm(k.joints[-1, 0, [0, 2]] - k.joints[0, 0, [0, 2]])
    return {"still": bool(moved < 0.4 and k.y(PELVIS).min() > 0.8 and not _airborne(k).any())}


def _walk(k, a):
    return {"direction": k.forward_travel > 0.5 if a.variant == "forward" else k.backward_travel > 0.5}


def _run(k, a):
    window = uniform_filter1d(k.speed, int(FPS), mode="nearest") if len(k.speed) else np.zeros(1)
    return {"speed": bool(window.max() > 1.9 and k.forward_travel > 2.0)}


def _circle(k, a):
    sign = -1.0 if a.variant == "clockwise" else 1.0
    return {"direction": sign * k.turned > np.deg2rad(270)}


def _turn(k, a):
    sign = 1.0 if a.variant == "left" else -1.0
    return {"direction": sign * k.turned > np.deg2rad(60)}


def _sidestep(k, a):
    sign = 1.0 if a.variant == "left" else -1.0
    return {"direction": sign * k.side_travel > 0.25}


def _jump(k, a):
    air = _airborne(k)
    hops = _events(air, min_len=3)
    out = {"height": bool(hops >= 1)}
    if a.variant == "forward":
        out["forward"] = k.forward_travel > 0.25
    _counted(out, a, hops)
    return out


def _kick(k, a):
    s, o = SIDE[a.variant], SIDE[_other(a.variant)]
    high = k.y(s["ankle"]) > 0.3
    forward = k.body[:, s["ankle"], 2] > 0.2
    out = {"leg": bool((high & forward).sum() >= 2 and k.y(o["ankle"])[high].max(initial=0) < 0.2)}
    _counted(out, a, _events(high & forward, min_len=1))
    return out


def _raised(k, side: str, above: int | None = None) -> np.ndarray:
    s = SIDE[side]
    ref = k.y(above) if above is not None else k.y(s["shoulder"])
    return k.y(s["wrist"]) > ref


def _wave(k, a):
    s = SIDE[a.variant]
    up = _raised(k, a.variant) & ~_raised(k, _other(a.variant))
    lateral = np.diff(k.body[:, s["wrist"], 0])
    flips = int((np.diff(np.sign(lateral[up[1:]])) != 0).sum()) if up.sum() > 2 else 0
    return {"hand": bool(up.sum() >= FPS and flips >= 3)}


def _raise(k, a):
    if a.variant == "both":
        both = _raised(k, "left", HEAD) & _raised(k, "right", HEAD)
        return {"arms": bool(both.sum() >= 10)}
    alone = _raised(k, a.variant, HEAD) & ~_raised(k, _other(a.variant))
    return {"arm": bool(alone.sum() >= 10)}


def _clap(k, a):
    gap = np.linalg.norm(k.joints[:, L_WRIST] - k.joints[:, R_WRIST], axis=-1)
    together = gap < 0.12
    front = (k.body[:, [L_WRIST, R_WRIST], 2] > 0.15).all(1)
    claps = _events(together & front)
    out = {"hands": claps >= 1}
    _counted(out, a, claps)
    return out


def _punch(k, a):
    s, o = SIDE[a.variant], SIDE[_other(a.variant)]
    reach = k.body[:, s["wrist"], 2]
    level = np.abs(k.y(s["wrist"]) - k.y(s["shoulder"])) < 0.2
    out_mask = (reach > 0.42) & level & (k.body[:, o["wrist"], 2] < 0.35)
    out = {"hand": bool(out_mask.any())}
    _counted(out, a, _events(out_mask, min_len=1))
    return out


def _jacks(k, a):
    up = _raised(k, "left", HEAD) & _raised(k, "right", HEAD)
    reps = _events(up, min_len=2)
    out = {"arms": bool(reps >= 1 and _airborne(k).any())}
    _counted(out, a, reps)
    return out


def _holding(k: Kinematics) -> np.ndarray:
    """Frames where both hands are in front of the body at about waist height (carrying something)."""
    height = k.joints[:, [L_WRIST, R_WRIST], 1]
    return ((k.body[:, [L_WRIST, R_WRIST], 2] > 0.15).all(1) & ((height > 0.75) & (height < 1.45)).all(1))


def _floor_reach(k: Kinematics) -> np.ndarray:
    return k.joints[:, [L_WRIST, R_WRIST], 1].min(1) < 0.3


def _pick_up(k, a):
    reach = np.flatnonzero(_floor_reach(k))
    after = _longest(_holding(k)[reach[-1]:]) >= 0.5 * FPS if len(reach) else False
    return {"reach_floor": bool(len(reach)), "holds_after": bool(after)}


def _put_down(k, a):
    reach = np.flatnonzero(_floor_reach(k))
    holding = _holding(k)
    before = _longest(holding[: reach[0]]) >= 0.5 * FPS if len(reach) else False
    released = _longest(~holding[reach[-1]:]) >= 0.3 * FPS if len(reach) else False
    out = {"reach_floor": bool(len(reach)), "holds_before": bool(before), "releases": bool(released)}
    if a.variant == "kneeling":
        out["knee_down"] = bool(k.joints[:, [L_KNEE, R_KNEE], 1].min() < 0.15)
    return out


def _throw(k, a):
    s, o = SIDE[a.variant], SIDE[_other(a.variant)]
    speed = {j: np.linalg.norm(np.diff(k.body[:, j], axis=0), axis=-1).max() * FPS for j in (s["wrist"], o["wrist"])}
    return {"hand": bool(_raised(k, a.variant, HEAD).any() and speed[s["wrist"]] > 1.5 * speed[o["wrist"]]
                         and speed[s["wrist"]] > 2.5)}


def _carry(k, a):
    return {"hands_in_front": bool(_longest(_holding(k)) >= 2 * FPS), "walks": k.forward_travel > 0.5}


def _squat(k, a):
    low = k.y(PELVIS) < 0.52  # a seat is higher (~0.58 m), a jump's crouch much higher
    out = {"depth": bool(low.any())}
    _counted(out, a, _events(low, min_len=2))
    return out


def _sit(k, a):
    return {"seated": bool(_longest(k.y(PELVIS) < 0.7) >= 1.5 * FPS)}


def _kneel(k, a):
    s, o = SIDE[a.variant], SIDE[_other(a.variant)]
    down = k.y(s["knee"]) < 0.15
    return {"knee": bool(down.sum() >= 10 and k.y(o["knee"])[down].min(initial=1.0) > 0.3)}


def _one_leg(k, a):
    s, o = SIDE[a.variant], SIDE[_other(a.variant)]
    lifted = (k.y(o["ankle"]) > 0.18) & (k.y(s["ankle"]) < 0.12)
    return {"stance": bool(_longest(lifted) >= FPS)}


def _lean(k, a):
    trunk = k.body[:, NECK] - k.body[:, PELVIS]
    fwd = np.degrees(np.arctan2(trunk[:, 2], trunk[:, 1]))
    side = np.degrees(np.arctan2(trunk[:, 0], trunk[:, 1]))
    tests = {"forward": fwd.max() > 22, "backward": fwd.min() < -10, "left": side.max() > 10, "right": side.min() < -10}
    return {"direction": bool(tests[a.variant])}


CHECKS: dict[str, Callable[[Kinematics, ParsedAction], dict[str, bool]]] = {
    "stand": _stand, "walk": _walk, "run": _run, "circle": _circle, "turn": _turn, "sidestep": _sidestep,
    "jump": _jump, "kick": _kick, "wave": _wave, "raise": _raise, "clap": _clap, "punch": _punch,
    "jumping_jacks": _jacks, "pick_up": _pick_up, "put_down": _put_down, "throw": _throw, "carry": _carry,
    "squat": _squat, "sit": _sit, "kneel": _kneel, "one_leg": _one_leg, "lean": _lean,
}


def judge_actions(joints: np.ndarray, actions: Sequence[ParsedAction]) -> dict[str, bool]:
    k = Kinematics.of(joints)
    result: dict[str, bool] = {}
    for act in actions:
        prefix = act.kind if act.kind not in {key.split(".")[0] for key in result} else f"{act.kind}#2"
        for attr, ok in CHECKS[act.kind](k, act).items():
            result[f"{prefix}.{attr}"] = bool(ok)
    return result


def judge_motion(joints: np.ndarray, caption: str) -> dict[str, bool]:
    """One entry per attribute the caption asserts, True where the motion satisfies it (empty if unparsed)."""
    return judge_actions(joints, parse_caption(caption))


def attribute_name(key: str) -> str:
    """A verdict key without its repeat marker: ``"wave#2.hand"`` → ``"wave.hand"``."""
    kind, _, attr = key.partition(".")
    return f"{kind.split('#')[0]}.{attr}" if attr else key


def judge_batch(motions: Sequence[np.ndarray], captions: Sequence[str]) -> dict:
    """Accuracy over all asserted attributes of a batch, per-attribute accuracies, unparsed captions."""
    totals: dict[str, list[int]] = {}
    unparsed = 0
    per_motion = []
    for joints, caption in zip(motions, captions, strict=True):
        verdict = judge_motion(joints, caption)
        per_motion.append(verdict)
        if not verdict:
            unparsed += 1
        for key, ok in verdict.items():
            name = attribute_name(key)
            totals.setdefault(name, [0, 0])
            totals[name][0] += int(ok)
            totals[name][1] += 1
    passed = sum(v[0] for v in totals.values())
    count = sum(v[1] for v in totals.values())
    return {
        "accuracy": passed / count if count else float("nan"),
        "attributes": count,
        "motion_accuracy": float(np.mean([all(v.values()) for v in per_motion if v])) if count else float("nan"),
        "per_attribute": {k: v[0] / v[1] for k, v in sorted(totals.items())},
        "unparsed": unparsed,
        "verdicts": per_motion,
    }
