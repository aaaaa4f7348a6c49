"""The action library: each kind of action builds a clip of joint-angle tracks for the posable body.

Kinds come in variants (side, direction) and take a repetition count and a speed. Every kind names
its family (the leave-one-out categories group families) and the body *primitives* it uses; kinds
share primitives on purpose (picking up bends the knees as deep as a squat, a crouch precedes every
jump, a kick passes through a one-leg stance, carrying walks), so a model trained without one
family still holds the pieces of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

FPS = 20.0
L, R = "left", "right"
HIP, KNEE, ANKLE = {L: 1, R: 2}, {L: 4, R: 5}, {L: 7, R: 8}
COLLAR, SHOULDER, ELBOW = {L: 13, R: 14}, {L: 16, R: 17}, {L: 18, R: 19}
SPINE = (3, 6, 9)
ARM_JOINTS = {L: (13, 16, 18, 20), R: (14, 17, 19, 21)}
UPPER_BODY = frozenset((*ARM_JOINTS[L], *ARM_JOINTS[R]))
ALL_JOINTS = frozenset(range(22))
_SIGN = {L: 1.0, R: -1.0}


def other(side: str) -> str:
    return R if side == L else L


@dataclass(frozen=True)
class Style:
    """How a domain moves; the corpus varies each field a little per motion."""

    stride: float = 24.0  # hip swing amplitude while walking, degrees
    cadence: float = 1.8  # steps per second
    arm_swing: float = 18.0  # degrees
    elbow: float = 12.0  # resting elbow bend, degrees
    knee_lift: float = 55.0  # swing-phase knee flexion, degrees
    jump_height: float = 0.25  # metres
    lean: float = 2.0  # habitual trunk lean, degrees (negative: upright / leaning back)
    amplitude: float = 1.0  # scale of gesture amplitudes
    tempo: float = 1.0  # > 1: gestures faster, clips shorter
    knee_bend: float = 0.0  # habitual knee flexion, degrees (a softer, lower stance)
    arm_carriage: float = 0.0  # arms habitually held away from the body, degrees

    def jitter(self, rng: np.random.Generator, amount: float = 0.1) -> Style:
        vals = {k: v * (1.0 + amount * rng.uniform(-1, 1)) for k, v in self.__dict__.items()}
        return Style(**vals)


@dataclass
class Clip:
    angles: np.ndarray  # [T, 22, 3] radians
    heading: np.ndarray  # [T] yaw, radians, relative to the clip's start
    lift: np.ndarray  # [T] metres above the lowest contact
    drift: np.ndarray  # [T, 2] body-frame x/z metres per frame, applied in flight
    pin: np.ndarray | None = None  # [T] planted foot (0 left, 1 right, -1 the lower one)
    owned: frozenset[int] = ALL_JOINTS  # joints this clip drives when layered over another
    reps: int = 1

    def __post_init__(self) -> None:
        if self.pin is None:
            self.pin = np.full(len(self.angles), -1)

    @classmethod
    def still(cls, frames: int, owned: frozenset[int] = ALL_JOINTS) -> Clip:
        return cls(np.zeros((frames, 22, 3)), np.zeros(frames), np.zeros(frames), np.zeros((frames, 2)), owned=owned)

    def __len__(self) -> int:
        return len(self.angles)


# ----------------------------------------------------------------------------------------- helpers


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def envelope(frames: int, ramp_in: float, ramp_out: float | None = None) -> np.ndarray:
    """0 -> 1 over ``ramp_in`` seconds, hold, 1 -> 0 over ``ramp_out`` seconds at the end."""
    t = np.arange(frames) / FPS
    ramp_out = ramp_in if ramp_out is None else ramp_out
    up = smoothstep(t / max(ramp_in, 1e-6))
    down = smoothstep((t[-1] - t) / max(ramp_out, 1e-6)) if ramp_out > 0 else np.ones(frames)
    return np.minimum(up, down)


def keyframes(times: list[float], values: list[float], frames: int) -> np.ndarray:
    """Smooth (eased) interpolation through ``(time, value)`` keys; holds the last value."""
    t = np.arange(frames) / FPS
    out = np.full(frames, float(values[-1]))
    for (t0, v0), (t1, v1) in zip(zip(times[:-1], values[:-1]), zip(times[1:], values[1:])):
        m = (t >= t0) & (t < t1)
        out[m] = v0 + (v1 - v0) * smoothstep((t[m] - t0) / max(t1 - t0, 1e-6))
    out[t < times[0]] = values[0]
    return out


def deg(x):
    return np.deg2rad(x)


def set_leg(a, side, frames=slice(None), flex=0.0, abduct=0.0, knee=0.0, ankle=0.0):
    """Hip flexion forward, abduction outward, knee flexion, ankle dorsiflexion (toes up), in degrees."""
    a[frames, HIP[side], 0] += -deg(flex)
    a[frames, HIP[side], 2] += _SIGN[side] * deg(abduct)
    a[frames, KNEE[side], 0] += deg(knee)
    a[frames, ANKLE[side], 0] += -deg(ankle)


def set_arm(a, side, frames=slice(None), flex=0.0, abduct=0.0, twist=0.0, elbow=0.0, elbow_side=0.0):
    """Shoulder flexion forward, abduction outward, inward twist; elbow flexion forward / sideways-up."""
    a[frames, SHOULDER[side], 0] += -deg(flex)
    a[frames, SHOULDER[side], 2] += _SIGN[side] * deg(abduct)
    a[frames, SHOULDER[side], 1] += -_SIGN[side] * deg(twist)
    a[frames, ELBOW[side], 0] += -deg(elbow)
    a[frames, ELBOW[side], 2] += _SIGN[side] * deg(elbow_side)


def set_spine(a, frames=slice(None), forward=0.0, left=0.0):
    for j in SPINE:
        a[frames, j, 0] += deg(forward) / 3
        a[frames, j, 2] += -deg(left) / 3


def bend_at_hips(a, frames=slice(None), forward=0.0):
    """Pitch the pelvis forward while the legs keep their direction (bending over happens at the hips)."""
    a[frames, 0, 0] += deg(forward)
    for side in (L, R):
        a[frames, HIP[side], 0] += -deg(forward)


def apply_posture(a: np.ndarray, style: Style) -> None:
    """The domain's habitual stance, added under every action."""
    for side in (L, R):
        set_leg(a, side, flex=0.5 * style.knee_bend, knee=style.knee_bend, ankle=0.5 * style.knee_bend)
        set_arm(a, side, abduct=style.arm_carriage)


def _frames(seconds: float, style: Style, speed: float = 1.0) -> int:
    return int(round(seconds * FPS / (style.tempo * speed)))


# ----------------------------------------------------------------------------------------- locomotion


def gait(frames: int, style: Style, travel: str = "forward", speed: float = 1.0, run: bool = False) -> Clip:
    """Walking (or jogging) forwards, backwards or in place; travel emerges from the planted foot."""
    clip = Clip.still(frames)
    a = clip.angles
    t = np.arange(frames) / FPS
    cadence = style.cadence * speed * (1.45 if run else 1.0)
    phase = np.pi * cadence * t
    env = envelope(frames, 0.4)
    direction = {"forward": 1.0, "backward": -1.0, "in_place": 0.0}[travel]
    stride = style.stride * (1.5 if run else 1.0) * (0.8 if travel == "backward" else 1.0) * speed ** 0.3
    knee_lift = style.knee_lift * (1.5 if run else 1.0)
    for side, shift in ((L, 0.0), (R, np.pi)):
        ph = phase + shift
        if direction == 0.0:
            swing = np.maximum(0.0, np.sin(ph))
            set_leg(a, side, flex=0.5 * knee_lift * swing * env, knee=knee_lift * swing * env)
        else:
            swing = np.maximum(0.0, direction * np.cos(ph)) ** 1.3
            push_off = np.maximum(0.0, -direction * np.sin(ph)) * (swing == 0)  # heel rises late in stance
            set_leg(a, side, flex=stride * np.sin(ph) * env, knee=(knee_lift * swing + 5) * env,
                    ankle=(10 * swing - 25 * push_off) * env)
        arm = style.arm_swing * (1.6 if run else 1.0) * np.sin(ph) * env * (direction if direction else 0.3)
        set_arm(a, side, flex=-arm, abduct=6, elbow=(style.elbow + (70 if run else 0)) * np.maximum(env, 0.3))
    # The stance foot is the one not swinging: its hip moves against the direction of travel.
    left_swings = np.sin(phase) > 0 if direction == 0.0 else direction * np.cos(phase) > 0
    clip.pin = np.where(left_swings, 1, 0)
    set_spine(a, forward=(style.lean + (8 if run else 0)) * env)
    return clip


def walk(variant, count, speed, style, rng):
    return gait(_frames(rng.uniform(3.5, 6.5), style), style, variant, speed)


def run(variant, count, speed, style, rng):
    return gait(_frames(rng.uniform(3.0, 5.0), style), style, "forward", speed, run=True)


def circle(variant, count, speed, style, rng):
    frames = _frames(rng.uniform(7.0, 9.5), style, 0.9)
    clip = gait(frames, style, "forward", speed)
    turn = 2 * np.pi * rng.uniform(1.0, 1.15) * (-1.0 if variant == "clockwise" else 1.0)
    clip.heading = turn * smoothstep(np.linspace(-0.08, 1.08, frames))
    return clip


def turn(variant, count, speed, style, rng):
    frames = _frames(rng.uniform(2.5, 3.5), style, speed)
    clip = gait(frames, style, "in_place", 1.0)
    angle = deg(rng.choice([90.0, 135.0, 180.0])) * (1.0 if variant == L else -1.0)
    clip.heading = angle * smoothstep(np.linspace(-0.15, 1.15, frames))
    return clip


def sidestep(variant, count, speed, style, rng):
    steps = int(rng.integers(2, 5))
    cycle = 1.0 / (style.cadence * speed * 0.6)
    frames = int(round((steps * cycle + 0.6) * FPS))
    clip = Clip.still(frames)
    a = clip.angles
    t = np.arange(frames) / FPS - 0.3
    active = (t >= 0) & (t < steps * cycle)
    ph = np.where(active, 2 * np.pi * t / cycle, 0.0)
    lead, trail = variant, other(variant)
    abduct = 14 * style.amplitude * (1 - np.cos(ph)) / 2
    lift_lead, lift_trail = np.maximum(0, np.sin(ph)), np.maximum(0, -np.sin(ph))
    set_leg(a, lead, abduct=abduct, knee=45 * lift_lead, flex=22 * lift_lead)
    set_leg(a, trail, knee=45 * lift_trail, flex=22 * lift_trail)
    set_spine(a, left=_SIGN[variant] * 4 * envelope(frames, 0.4))  # weight shift towards the step
    lead_foot, trail_foot = (0, 1) if lead == L else (1, 0)
    clip.pin = np.where(active & (np.sin(ph) > 0), trail_foot, np.where(active, lead_foot, -1))
    for side in (L, R):
        set_arm(a, side, abduct=8, elbow=style.elbow)
    return clip


def jump(variant, count, speed, style, rng, flight_height=None, forward=None):
    """Crouch, take off, fly, land in a crouch, stand: ``count`` times."""
    height = flight_height if flight_height is not None else style.jump_height * rng.uniform(0.8, 1.2)
    forward = forward if forward is not None else (0.6 if variant == "forward" else 0.0)
    air = 2 * np.sqrt(2 * height / 9.81)
    one = 0.5 + 0.25 + air + 0.35 + 0.4
    frames = int(round((count * one + 0.4) * FPS))
    clip = Clip.still(frames)
    keys: dict[str, list[tuple[float, float]]] = {k: [(0.0, 0.0)] for k in ("hip", "knee", "ankle", "arm", "spine")}
    for r in range(count):
        t0 = 0.2 + r * one
        crouch, takeoff, land = t0 + 0.5, t0 + 0.75, t0 + 0.75 + air
        for key, bottom, top in (("hip", 45, -5), ("knee", 75, 5), ("ankle", 25, -20), ("arm", -35, 110),
                                 ("spine", 20, -3)):
            keys[key] += [(t0, 0.0), (crouch, bottom), (takeoff, top), (land, top * 0.3), (land + 0.35, bottom * 0.6),
                          (land + 0.75, 0.0)]
        t = np.arange(frames) / FPS
        s = (t - takeoff) / air
        m = (s > 0) & (s < 1)
        clip.lift[m] = 4 * height * s[m] * (1 - s[m])
        clip.drift[m, 1] = forward / (air * FPS)
    track = {k: keyframes([p[0] for p in v], [p[1] for p in v], frames) for k, v in keys.items()}
    arm_amp = track["arm"] * style.amplitude
    for side in (L, R):
        set_leg(clip.angles, side, flex=track["hip"], knee=track["knee"], ankle=track["ankle"])
        set_arm(clip.angles, side, flex=arm_amp, elbow=style.elbow + 10)
    set_spine(clip.angles, forward=track["spine"])
    clip.reps = count
    return clip


def jumping_jacks(variant, count, speed, style, rng):
    """Hop out (legs apart, arms overhead), hop in (closed, arms down): ``count`` times."""
    hop = 0.09
    air = 2 * np.sqrt(2 * hop / 9.81)
    one = 2 * (air + 0.25)
    frames = int(round((count * one + 0.6) * FPS))
    clip = Clip.still(frames)
    t = np.arange(frames) / FPS
    times, levels = [0.0], [0.0]
    for r in range(count):
        for k, (start, end) in enumerate(((0.0, 1.0), (1.0, 0.0))):
            takeoff = 0.3 + r * one + k * (air + 0.25)
            times += [takeoff, takeoff + air]
            levels += [start, end]
            s = (t - takeoff) / air
            m = (s > 0) & (s < 1)
            clip.lift[m] = 4 * hop * s[m] * (1 - s[m])
    spread = keyframes(times, levels, frames)
    for side in (L, R):
        set_leg(clip.angles, side, abduct=13 * spread)
        set_arm(clip.angles, side, abduct=165 * spread, elbow=10)
    clip.reps = count
    return clip


def kick(variant, count, speed, style, rng):
    one = 1.4 / speed
    frames = int(round((count * one + 0.8) * FPS))
    clip = Clip.still(frames)
    times, flex, knee = [0.0], [0.0], [0.0]
    for r in range(count):
        t0 = 0.4 + r * one
        times += [t0, t0 + 0.35, t0 + 0.6, t0 + 0.95, t0 + 1.2]
        flex += [0.0, -15.0, 80.0, 20.0, 0.0]
        knee += [0.0, 70.0, 5.0, 40.0, 0.0]
    set_leg(clip.angles, variant, flex=keyframes(times, flex, frames), knee=keyframes(times, knee, frames))
    env = envelope(frames, 0.4)
    set_spine(clip.angles, forward=-6 * env, left=-_SIGN[variant] * 3 * env)
    for side in (L, R):
        set_arm(clip.angles, side, abduct=25 * env, elbow=style.elbow + 20)
    clip.reps = count
    return clip


def stand(variant, count, speed, style, rng):
    frames = _frames(rng.uniform(2.0, 4.0), style)
    clip = Clip.still(frames)
    t = np.arange(frames) / FPS
    sway = np.sin(2 * np.pi * 0.25 * t)
    set_spine(clip.angles, forward=style.lean + 1.5 * sway, left=1.5 * np.sin(2 * np.pi * 0.2 * t))
    for side in (L, R):
        set_arm(clip.angles, side, abduct=5, elbow=style.elbow)
    return clip


# ----------------------------------------------------------------------------------------- upper body


def _arm_clip(frames: int, sides: tuple[str, ...]) -> Clip:
    return Clip.still(frames, frozenset(j for s in sides for j in ARM_JOINTS[s]))


def wave(variant, count, speed, style, rng):
    frames = _frames(rng.uniform(2.5, 4.0), style, speed)
    clip = _arm_clip(frames, (variant,))
    env = envelope(frames, 0.5)
    t = np.arange(frames) / FPS
    swing = 28 * style.amplitude * np.sin(2 * np.pi * 2.0 * speed * t)
    set_arm(clip.angles, variant, abduct=100 * env, elbow_side=(75 + swing) * env)
    return clip


def raise_arm(variant, count, speed, style, rng):
    sides = (L, R) if variant == "both" else (variant,)
    frames = _frames(rng.uniform(2.5, 4.0), style, speed)
    clip = _arm_clip(frames, sides)
    env = envelope(frames, 0.8)
    forward = rng.random() < 0.4
    for side in sides:
        if forward:
            set_arm(clip.angles, side, flex=160 * env, abduct=10 * env)
        else:
            set_arm(clip.angles, side, abduct=160 * env, elbow=10 * env)
    return clip


def clap(variant, count, speed, style, rng):
    one = 0.5 / speed
    frames = int(round((count * one + 1.2) * FPS))
    clip = _arm_clip(frames, (L, R))
    env = envelope(frames, 0.5)
    t = np.arange(frames) / FPS - 0.6
    closing = np.where((t > 0) & (t < count * one), (1 - np.cos(2 * np.pi * t / one)) / 2, 0.0)
    for side in (L, R):
        set_arm(clip.angles, side, flex=65 * env, twist=(8 + 25 * closing) * env, elbow=45 * env)
    clip.reps = count
    return clip


def punch(variant, count, speed, style, rng):
    one = 0.75 / speed
    frames = int(round((count * one + 1.2) * FPS))
    clip = _arm_clip(frames, (L, R))
    env = envelope(frames, 0.4)
    times, flex, elbow = [0.0, 0.5], [50.0, 50.0], [110.0, 110.0]
    for r in range(count):
        t0 = 0.5 + r * one
        times += [t0 + 0.15, t0 + 0.3, t0 + 0.6]
        flex += [88.0, 88.0, 50.0]
        elbow += [3.0, 3.0, 110.0]
    set_arm(clip.angles, variant, flex=keyframes(times, flex, frames) * env, twist=10 * env,
            elbow=keyframes(times, elbow, frames) * env)
    set_arm(clip.angles, other(variant), flex=50 * env, twist=10 * env, elbow=110 * env)
    clip.reps = count
    return clip


# ----------------------------------------------------------------------------------------- objects


def throw(variant, count, speed, style, rng):
    frames = _frames(3.0, style, speed)
    clip = Clip.still(frames)
    keys = [0.0, 0.4, 1.1, 1.35, 1.7, 2.4]
    set_arm(clip.angles, variant, flex=keyframes(keys, [0, 0, 165, 70, 35, 0], frames),
            elbow=keyframes(keys, [10, 10, 95, 10, 15, 10], frames))
    set_arm(clip.angles, other(variant), flex=keyframes(keys, [0, 0, 40, 10, 0, 0], frames), elbow=20)
    set_spine(clip.angles, forward=keyframes(keys, [0, 0, -10, 15, 8, 0], frames))
    set_leg(clip.angles, other(variant), flex=keyframes(keys, [0, 0, 5, 18, 10, 0], frames))
    return clip


def _hold_pose(frames: int, style: Style, times: list[float], levels: list[float], pose: Callable) -> Clip:
    clip = Clip.still(frames)
    pose(clip.angles, keyframes(times, levels, frames))
    return clip


def _deep_bend(a, w, arms_reach=True, depth=1.0, lean=25.0):
    """The shared deep knee bend of squats and pick-ups (``w`` in [0, 1] scales the pose)."""
    for side in (L, R):
        set_leg(a, side, flex=100 * depth * w, knee=125 * depth * w, ankle=30 * depth * w)
    bend_at_hips(a, forward=0.6 * lean * w)
    set_spine(a, forward=0.4 * lean * w)
    if arms_reach:
        for side in (L, R):
            set_arm(a, side, flex=60 * w, elbow=5 * w)


def _carry_arms(a, w):
    for side in (L, R):
        set_arm(a, side, flex=35 * w, twist=15 * w, elbow=85 * w)


def pick_up(variant, count, speed, style, rng):
    frames = _frames(rng.uniform(3.6, 4.4), style, speed)
    clip = Clip.still(frames)
    low = keyframes([0.3, 1.3, 1.9, 2.9], [0, 1, 1, 0], frames)
    carry = keyframes([1.9, 2.9], [0, 1], frames)
    _deep_bend(clip.angles, low, arms_reach=False, lean=65.0)
    _reach_down(clip.angles, low * (1 - carry))
    _carry_arms(clip.angles, carry)
    return clip


def _reach_down(a, w):
    for side in (L, R):
        set_arm(a, side, flex=70 * w, twist=10 * w)


def put_down(variant, count, speed, style, rng):
    frames = _frames(rng.uniform(3.6, 4.4), style, speed)
    clip = Clip.still(frames)
    carry = keyframes([0.0, 0.6, 1.3], [1, 1, 0], frames)
    low = keyframes([0.3, 1.3, 1.9, 2.9], [0, 1, 1, 0], frames)
    if variant == "kneeling":
        _kneel_pose(clip.angles, L if rng.random() < 0.5 else R, low)
        bend_at_hips(clip.angles, forward=50 * low)
        set_spine(clip.angles, forward=30 * low)
    else:
        _deep_bend(clip.angles, low, arms_reach=False, lean=65.0)
    _reach_down(clip.angles, low * (1 - carry))
    _carry_arms(clip.angles, carry)
    return clip


def carry(variant, count, speed, style, rng):
    clip = walk("forward", 1, speed, style, rng)
    for side in (L, R):
        clip.angles[:, list(ARM_JOINTS[side])] = 0.0
    _carry_arms(clip.angles, np.ones(len(clip)))  # the box is held from the first frame
    return clip


# ----------------------------------------------------------------------------------------- posture


def squat(variant, count, speed, style, rng):
    one = 1.7 / speed
    frames = int(round((count * one + 0.6) * FPS))
    times, levels = [0.0], [0.0]
    for r in range(count):
        t0 = 0.3 + r * one
        times += [t0, t0 + 0.65, t0 + 0.95, t0 + 1.6]
        levels += [0.0, 1.0, 1.0, 0.0]
    clip = _hold_pose(frames, style, times, levels, lambda a, w: _deep_bend(a, w, depth=rng.uniform(0.95, 1.05)))
    clip.reps = count
    return clip


def sit(variant, count, speed, style, rng):
    frames = _frames(rng.uniform(3.5, 5.0), style, speed)

    def seated(a, w):
        for side in (L, R):
            set_leg(a, side, flex=90 * w, knee=90 * w, abduct=5 * w)
            set_arm(a, side, flex=35 * w, elbow=45 * w)
        set_spine(a, forward=-4 * w)

    return _hold_pose(frames, style, [0.3, 1.6], [0.0, 1.0], seated)


def _kneel_pose(a, side, w):
    set_leg(a, side, flex=-5 * w, knee=95 * w, ankle=-30 * w)
    set_leg(a, other(side), flex=90 * w, knee=90 * w)


def kneel(variant, count, speed, style, rng):
    frames = _frames(rng.uniform(3.5, 5.0), style, speed)

    def kneeling(a, w):
        _kneel_pose(a, variant, w)
        for side in (L, R):
            set_arm(a, side, flex=15 * w, elbow=30 * w)

    return _hold_pose(frames, style, [0.3, 1.6], [0.0, 1.0], kneeling)


def one_leg(variant, count, speed, style, rng):
    """Stand on the ``variant`` leg: the other foot is lifted and held."""
    frames = _frames(rng.uniform(3.0, 4.5), style, speed)
    lifted = other(variant)

    def balance(a, w):
        set_leg(a, lifted, flex=35 * w, knee=80 * w)
        set_spine(a, left=-_SIGN[lifted] * 4 * w)
        for side in (L, R):
            set_arm(a, side, abduct=30 * w, elbow=15)

    return _hold_pose(frames, style, [0.3, 0.9, (frames / FPS) - 0.8, frames / FPS - 0.1], [0, 1, 1, 0], balance)


def lean(variant, count, speed, style, rng):
    frames = _frames(rng.uniform(3.0, 4.0), style, speed)
    fwd, left = {"forward": (40, 0), "backward": (-25, 0), L: (0, 35), R: (0, -35)}[variant]

    def leaning(a, w):
        bend_at_hips(a, forward=0.5 * fwd * w)
        set_spine(a, forward=0.5 * fwd * w, left=left * w)
        for side in (L, R):
            set_arm(a, side, abduct=5, elbow=style.elbow)

    t_end = frames / FPS
    return _hold_pose(frames, style, [0.3, 1.1, t_end - 1.0, t_end - 0.2], [0, 1, 1, 0], leaning)


# ----------------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Kind:
    name: str
    family: str
    variants: tuple[str, ...]
    primitives: tuple[str, ...]
    build: Callable[..., Clip]
    counts: tuple[int, ...] = (1,)  # repetition counts a caption may state
    layer: str = "whole"  # "base" (can carry an overlay), "overlay" (arms only), or "whole"
    turns: bool = False  # changes the heading (at most one such action per motion)

    def action_name(self, variant: str) -> str:
        return self.name if variant == "" else f"{self.name}_{variant}"


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("stand", "locomotion", ("",), ("upright",), stand, layer="base"),
    Kind("walk", "locomotion", ("forward", "backward"), ("gait",), walk, layer="base"),
    Kind("run", "locomotion", ("",), ("gait", "fast_gait"), run),
    Kind("circle", "locomotion", ("clockwise", "counterclockwise"), ("gait", "steady_turn"), circle, layer="base",
         turns=True),
    Kind("turn", "locomotion", (L, R), ("stepping", "steady_turn"), turn, layer="base", turns=True),
    Kind("sidestep", "locomotion", (L, R), ("side_step", "torso_tilt_side"), sidestep),
    Kind("jump", "locomotion", ("", "forward"), ("crouch", "flight"), jump, counts=(1, 2, 3)),
    Kind("kick", "locomotion", (L, R), ("one_leg_stance", "leg_swing_forward"), kick, counts=(1, 2)),
    Kind("wave", "upper_body", (L, R), ("arm_raised_side", "forearm_oscillation"), wave, layer="overlay"),
    Kind("raise", "upper_body", (L, R, "both"), ("arm_overhead",), raise_arm, layer="overlay"),
    Kind("clap", "upper_body", ("",), ("hands_in_front", "hands_meet"), clap, counts=(2, 3, 4), layer="overlay"),
    Kind("punch", "upper_body", (L, R), ("hands_in_front", "fast_arm_extension"), punch, counts=(1, 2, 3)),
    Kind("jumping_jacks", "upper_body", ("",), ("arm_overhead", "flight", "legs_apart"), jumping_jacks,
         counts=(2, 3, 4)),
    Kind("pick_up", "object_manipulation", ("",), ("deep_knee_bend", "torso_forward", "reach_floor", "hold_low",
                                                   "hands_in_front"), pick_up),
    Kind("put_down", "object_manipulation", ("", "kneeling"), ("deep_knee_bend", "torso_forward", "reach_floor",
                                                                "hold_low", "hands_in_front", "knee_to_floor"),
         put_down),
    Kind("throw", "object_manipulation", (L, R), ("arm_overhead", "fast_arm_extension"), throw),
    Kind("carry", "object_manipulation", ("",), ("gait", "hands_in_front"), carry),
    Kind("squat", "posture_balance", ("",), ("deep_knee_bend", "torso_forward", "crouch"), squat, counts=(1, 2, 3)),
    Kind("sit", "posture_balance", ("",), ("deep_knee_bend", "hold_low"), sit),
    Kind("kneel", "posture_balance", (L, R), ("knee_to_floor", "deep_knee_bend"), kneel),
    Kind("one_leg", "posture_balance", (L, R), ("one_leg_stance", "torso_tilt_side"), one_leg),
    Kind("lean", "posture_balance", ("forward", "backward", L, R), ("torso_forward", "torso_tilt_side"), lean),
)}

FAMILIES = ("locomotion", "upper_body", "object_manipulation", "posture_balance")


def all_action_names() -> list[str]:
    return [k.action_name(v) for k in KINDS.values() for v in k.variants]
