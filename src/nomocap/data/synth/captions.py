"""The corpus grammar: caption templates per action kind, how captions compose, and the mirror of a text.

A template is a verb phrase with optional slots: ``{side}`` (left/right), ``{fb}`` (forward/backward),
``{dir}`` (clockwise/counterclockwise), ``{c}`` (a repetition count such as " twice"), ``{poss}``
(the/his/her). A template without a side/fb/dir slot belongs to one fixed variant. The judge parses
captions with the same grammar (``parse_caption``), so every generated caption can be checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Template:
    text: str
    variant: str | None = None  # the variant of a slot-less template
    domains: str = "hk"
    gerund: bool = False  # an -ing phrase, used after "while" (and in KIT-like progressive frames)


def _t(text: str, variant: str | None = None, domains: str = "hk") -> Template:
    return Template(text, variant, domains, gerund=text.split()[0].endswith("ing"))


TEMPLATES: dict[str, list[Template]] = {
    "stand": [_t("stands still", ""), _t("stands in place", ""), _t("stands idle", ""),
              _t("stands there doing nothing", ""), _t("remains standing", ""), _t("standing still", ""),
              _t("standing in place", "")],
    "walk": [_t("walks {fb}"), _t("takes a few steps {fb}"), _t("walks straight ahead", "forward"),
             _t("moves {fb} at a walking pace"), _t("steps {fb}"), _t("goes {fb}", domains="k"),
             _t("walking {fb}"), _t("stepping {fb}")],
    "run": [_t("runs", ""), _t("runs forward", ""), _t("jogs forward", ""), _t("runs straight ahead", ""),
            _t("sprints forward", ""), _t("is running", "", domains="k"), _t("running forward", ""),
            _t("running", "", domains="")],
    "circle": [_t("walks in a circle {dir}"), _t("walks {dir} in a circle"), _t("walks in a {dir} circle"),
               _t("circles around {dir}"), _t("walks around in a {dir} direction"),
               _t("goes in a {dir} circle", domains="k"),
               _t("walking in a {dir} circle")],
    "turn": [_t("turns {side}"), _t("turns around to the {side}"), _t("turns to the {side}"),
             _t("turns {side} on the spot"), _t("spins to the {side}"), _t("rotates to the {side}", domains="k"),
             _t("turning to the {side}")],
    "sidestep": [_t("steps sideways to the {side}"), _t("sidesteps to the {side}"), _t("side-steps {side}"),
                 _t("shuffles to the {side}"), _t("moves sideways to the {side}")],
    "jump": [_t("jumps{c}", ""), _t("jumps up and down{c}", ""), _t("hops in place{c}", ""),
             _t("jumps in place{c}", ""), _t("jumps up{c}", ""), _t("jumps forward{c}", "forward"),
             _t("leaps forward{c}", "forward"), _t("jumps ahead{c}", "forward"),
             _t("hops forward{c}", "forward"), _t("does a forward jump", "forward")],
    "kick": [_t("kicks with the {side} leg{c}"), _t("kicks with {poss} {side} foot{c}"), _t("does a {side} kick"),
             _t("kicks {poss} {side} leg forward{c}"), _t("kicks forward with the {side} foot{c}")],
    "wave": [_t("waves with the {side} hand"), _t("waves the {side} hand"), _t("waves {poss} {side} hand"),
             _t("waves hello with the {side} hand"), _t("waves the {side} arm above the shoulder"),
             _t("waving the {side} hand"), _t("waving with {poss} {side} hand")],
    "raise": [_t("raises the {side} arm"), _t("lifts the {side} arm up"), _t("raises {poss} {side} arm above the head"),
              _t("puts the {side} arm up"), _t("holds the {side} arm up"), _t("raises both arms", "both"),
              _t("lifts both arms up", "both"), _t("raises both hands above the head", "both"),
              _t("puts both arms up", "both"), _t("holds both arms up in the air", "both"),
              _t("raising the {side} arm"), _t("raising both arms", "both")],
    "clap": [_t("claps{c}", ""), _t("claps the hands{c}", ""), _t("claps hands{c}", ""), _t("applauds", ""),
             _t("claps in front of the chest{c}", ""), _t("clapping the hands", "")],
    "punch": [_t("punches with the {side} hand{c}"), _t("throws a {side} punch"),
              _t("punches forward with the {side} fist{c}"), _t("boxes with the {side} hand{c}"),
              _t("jabs with the {side} arm{c}")],
    "jumping_jacks": [_t("does jumping jacks", ""), _t("does{c} jumping jacks", ""), _t("performs jumping jacks", ""),
                      _t("does star jumps", ""), _t("jumps while spreading arms and legs", "")],
    "pick_up": [_t("picks something up from the floor", ""), _t("bends down and picks up an object", ""),
                _t("picks up a box from the ground", ""), _t("reaches down and lifts an object", ""),
                _t("lifts something off the floor", "")],
    "put_down": [_t("puts something down on the floor", ""), _t("sets an object down on the ground", ""),
                 _t("places a box on the floor", ""), _t("lowers something to the ground", ""),
                 _t("puts down an object", ""), _t("kneels down and puts something on the floor", "kneeling"),
                 _t("puts an object on the ground while kneeling", "kneeling"),
                 _t("goes down on one knee and sets a box down", "kneeling"),
                 _t("kneels to place something on the floor", "kneeling"),
                 _t("drops to one knee and puts an object down", "kneeling")],
    "throw": [_t("throws a ball with the {side} hand"), _t("throws something with the {side} arm"),
              _t("tosses an object with the {side} hand"), _t("throws overhand with the {side} hand"),
              _t("winds up and throws with the {side} arm")],
    "carry": [_t("walks forward carrying a box", ""), _t("carries something while walking", ""),
              _t("walks holding an object in front", ""), _t("carries a heavy box forward", ""),
              _t("walks with a box in both hands", "")],
    "squat": [_t("squats down{c}", ""), _t("squats{c}", ""), _t("bends the knees and squats{c}", ""),
              _t("crouches down into a squat{c}", ""), _t("does a deep squat", ""), _t("performs squats{c}", "")],
    "sit": [_t("sits down", ""), _t("sits down on a chair", ""), _t("takes a seat", ""),
            _t("sits down and stays seated", ""), _t("lowers into a sitting position", "")],
    "kneel": [_t("kneels on the {side} knee"), _t("kneels down on {poss} {side} knee"),
              _t("goes down on the {side} knee"),
              _t("drops to the {side} knee"), _t("kneels with the {side} knee on the ground")],
    "one_leg": [_t("stands on the {side} leg"), _t("balances on the {side} foot"), _t("stands on {poss} {side} leg"),
                _t("balances on one leg, the {side} one"), _t("stands on one foot, the {side} one")],
    "lean": [_t("leans {fb}"), _t("bends {fb} at the waist"), _t("leans the upper body {fb}"), _t("tilts {fb}"),
             _t("bends over {fb}"), _t("leans to the {side}"), _t("bends to the {side}"),
             _t("tilts the upper body to the {side}"), _t("leans {side}"), _t("bends sideways to the {side}")],
}

SLOT_WORDS = {
    "side": {"left": ["left"], "right": ["right"]},
    "fb": {"forward": ["forward", "forwards"], "backward": ["backward", "backwards"]},
    "dir": {"clockwise": ["clockwise"], "counterclockwise": ["counterclockwise", "counter-clockwise", "anticlockwise"]},
}
COUNT_WORDS = {1: "once", 2: "twice", 3: "three times", 4: "four times"}
SUBJECTS = {
    "h": [("a person", "their"), ("someone", "their"), ("a man", "his"), ("the person", "their"),
          ("a woman", "her"), ("the man", "his"), ("a figure", "its")],
    "k": [("a human", "the"), ("the human", "the"), ("a subject", "the"), ("somebody", "the"), ("a person", "the")],
}
SEQUENCE_FRAMES = {"h": ["{a} and then {b}", "{a}, then {b}", "first {a} and then {b}", "{a} and afterwards {b}"],
                   "k": ["{a} and then {b}", "{a}, then {b}", "{a} and after that {b}"]}
OVERLAY_FRAMES = ["{a} while {g}", "{a}, {g}"]


def _slot_of(text: str) -> str | None:
    for slot in ("side", "fb", "dir"):
        if "{" + slot + "}" in text:
            return slot
    return None


def templates_for(kind: str, variant: str, domain: str, gerund: bool | None = None) -> list[Template]:
    out = []
    for tpl in TEMPLATES[kind]:
        if domain not in tpl.domains or (gerund is not None and tpl.gerund != gerund):
            continue
        slot = _slot_of(tpl.text)
        if (slot is None and tpl.variant == variant) or (slot and variant in SLOT_WORDS[slot]):
            out.append(tpl)
    return out


def realise(tpl: Template, variant: str, count: int, poss: str, rng: np.random.Generator) -> str:
    text = tpl.text
    slot = _slot_of(text)
    if slot:
        words = SLOT_WORDS[slot][variant]
        text = text.replace("{" + slot + "}", words[int(rng.integers(len(words)))])
    c = "" if count <= 1 and rng.random() < 0.5 else " " + COUNT_WORDS.get(count, f"{count} times")
    return text.replace("{c}", c).replace("{poss}", poss)


def verb_phrase(kind: str, variant: str, count: int, domain: str, poss: str, rng: np.random.Generator,
                gerund: bool = False) -> str:
    options = templates_for(kind, variant, domain, gerund) or templates_for(kind, variant, domain, None)
    if not options:
        raise ValueError(f"no caption template for {kind}/{variant!r}")
    return realise(options[int(rng.integers(len(options)))], variant, count, poss, rng)


def compose(clauses: list[tuple[str, str, int]], overlay: tuple[str, str, int] | None, domain: str,
            rng: np.random.Generator) -> str:
    """One caption: subject + clauses in sequence (+ an overlay after "while"), in the domain's style."""
    subject, poss = SUBJECTS[domain][int(rng.integers(len(SUBJECTS[domain])))]
    parts = [verb_phrase(k, v, c, domain, poss, rng) for k, v, c in clauses]
    body = parts[0]
    if len(parts) == 2:
        frames = SEQUENCE_FRAMES[domain]
        body = frames[int(rng.integers(len(frames)))].format(a=parts[0], b=parts[1])
    if overlay is not None:
        g = verb_phrase(*overlay, domain, poss, rng, gerund=True)
        body = OVERLAY_FRAMES[int(rng.integers(len(OVERLAY_FRAMES)))].format(a=body, g=g)
    text = f"{subject} {body}"
    if domain == "k":
        return text[0].upper() + text[1:] + "."
    return text + ("." if rng.random() < 0.5 else "")


_MIRROR = {"left": "right", "right": "left", "clockwise": "counterclockwise", "counterclockwise": "clockwise",
           "counter-clockwise": "clockwise", "anticlockwise": "clockwise", "anti-clockwise": "clockwise"}
_MIRROR_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _MIRROR), key=len, reverse=True)) + r")\b",
                        re.IGNORECASE)


def mirror_caption(text: str) -> str:
    """Swap left/right and clockwise/counterclockwise, as a left-right mirror of the motion requires."""

    def swap(m: re.Match) -> str:
        word = m.group(0)
        new = _MIRROR[word.lower()]
        return new.capitalize() if word[0].isupper() else new

    return _MIRROR_RE.sub(swap, text)


# ----------------------------------------------------------------------------------------- parsing

_SLOT_RE = {
    "side": r"(?P<side>left|right)",
    "fb": r"(?P<fb>forwards?|backwards?)",
    "dir": r"(?P<dir>clockwise|counter-?clockwise|anti-?clockwise)",
}
_COUNT_RE = r"(?P<count> once| twice| three times| four times| \d+ times)?"
_POSS_RE = r"(?:the|his|her|their|its)"


@dataclass(frozen=True)
class ParsedAction:
    kind: str
    variant: str
    count: int | None  # stated repetitions, None when the caption does not say


def _compile(tpl: Template) -> re.Pattern:
    pattern = re.escape(tpl.text)
    for slot, rx in _SLOT_RE.items():
        pattern = pattern.replace(re.escape("{" + slot + "}"), rx)
    pattern = pattern.replace(re.escape("{c}"), _COUNT_RE).replace(re.escape("{poss}"), _POSS_RE)
    return re.compile(pattern + r"$", re.IGNORECASE)


_COMPILED = [(kind, tpl, _compile(tpl)) for kind, tpls in TEMPLATES.items() for tpl in tpls]
_SUBJECT_RE = re.compile(r"^(?:" + "|".join(sorted({re.escape(s) for d in SUBJECTS.values() for s, _ in d},
                                                   key=len, reverse=True)) + r")\s+", re.IGNORECASE)
_SPLIT_RE = re.compile(r"\s*(?:,?\s*\band then\b|,\s*then\b|\band afterwards\b|\band after that\b"
                       r"|\bwhile\b(?= \w+ing)|,(?= \w+ing))\s*", re.IGNORECASE)
_FIRST_RE = re.compile(r"^first\s+", re.IGNORECASE)


def _normalise_variant(slot: str, word: str) -> str:
    word = word.lower()
    if slot == "fb":
        return "forward" if word.startswith("forward") else "backward"
    if slot == "dir":
        return "clockwise" if word == "clockwise" else "counterclockwise"
    return word


def parse_phrase(phrase: str) -> ParsedAction | None:
    phrase = phrase.strip().rstrip(".").strip()
    phrase = re.sub(r"^is\s+", "", phrase, flags=re.IGNORECASE)
    for kind, tpl, rx in _COMPILED:
        m = rx.match(phrase)
        if not m:
            continue
        groups = {k: v for k, v in m.groupdict().items() if v}
        variant = tpl.variant if tpl.variant is not None else ""
        for slot in ("side", "fb", "dir"):
            if slot in groups:
                variant = _normalise_variant(slot, groups[slot])
        count = None
        if "count" in groups:
            word = groups["count"].strip()
            inverse = {v: k for k, v in COUNT_WORDS.items()}
            count = inverse.get(word) or int(word.split()[0])
        return ParsedAction(kind, variant, count)
    return None


def _parse_clauses(text: str) -> list[ParsedAction] | None:
    """Parse a whole phrase, or split it at the first connector whose two sides both parse."""
    whole = parse_phrase(_FIRST_RE.sub("", text))
    if whole is not None:
        return [whole]
    for m in _SPLIT_RE.finditer(text):
        left, right = text[: m.start()], text[m.end():]
        if not left.strip() or not right.strip():
            continue
        head = parse_phrase(_FIRST_RE.sub("", left))
        rest = _parse_clauses(right) if head is not None else None
        if rest is not None:
            return [head, *rest]
    return None


def parse_caption(caption: str) -> list[ParsedAction]:
    """The actions a caption asserts, by the corpus grammar (empty when it does not parse)."""
    text = _SUBJECT_RE.sub("", caption.strip().rstrip("."), count=1)
    return _parse_clauses(text) or []
