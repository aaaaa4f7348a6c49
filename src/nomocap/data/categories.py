"""Keyword classes over captions for the paper's leave-one-out splits.

Two classes, as in the paper: ``object_manipulation`` (interacting with an object: picking up, putting
down, throwing, carrying, holding...) and ``posture_balance`` (seated or static postures and balance:
sitting, squatting, kneeling, standing on one leg, leaning, bending over). They work on any caption,
ours or the real HumanML3D / KIT-ML ones. A caption naming both (``bends down to pick up a box``) is an
object manipulation: the object is what the posture is for.
"""

from __future__ import annotations

import re

CATEGORIES = ("object_manipulation", "posture_balance")

KEYWORDS: dict[str, list[str]] = {
    "object_manipulation": [
        r"pick(s|ed|ing)? (\w+ )?up", r"put(s|ting)? (\w+ )?down", r"set(s|ting)? (\w+ )?down", r"place(s|d)?",
        r"throw(s|ing|n)?", r"threw", r"toss(es|ed|ing)?", r"catch(es|ing)?", r"caught", r"carr(y|ies|ied|ying)",
        r"grab(s|bed|bing)?", r"lift(s|ed|ing)? (a|an|the|some|something|it)\b",
        r"hold(s|ing)? (a|an|the|some|something)",
        r"object", r"box", r"ball", r"cup", r"bottle", r"glass", r"drink(s|ing)?", r"pour(s|ing)?",
    ],
    "posture_balance": [
        r"sit(s|ting)?", r"sat", r"seat(s|ed)?", r"squat(s|ted|ting)?", r"crouch(es|ed|ing)?", r"kneel(s|ing)?",
        r"knelt", r"knee(s)?", r"balanc(e|es|ed|ing)", r"one (leg|foot)", r"lean(s|ed|ing)?", r"tilt(s|ed|ing)?",
        r"bend(s|ing)? (over|forward|backward|sideways|to the)", r"bent over", r"lie(s)? down", r"lying",
    ],
}

_PATTERNS = {c: re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE) for c, words in KEYWORDS.items()}


def caption_category(caption: str) -> str | None:
    """The caption's leave-one-out class, or None (object manipulation wins over posture)."""
    for category in CATEGORIES:
        if _PATTERNS[category].search(caption):
            return category
    return None


def motion_category(captions: list[str]) -> str | None:
    """A motion belongs to a class if any of its captions does (object manipulation first)."""
    found = {caption_category(c) for c in captions}
    for category in CATEGORIES:
        if category in found:
            return category
    return None


def check_category(name: str) -> str:
    aliases = {"object": "object_manipulation", "objects": "object_manipulation", "posture": "posture_balance",
               "balance": "posture_balance", "object-manipulation": "object_manipulation",
               "posture-balance": "posture_balance"}
    name = aliases.get(name, name)
    if name not in CATEGORIES:
        raise ValueError(f"unknown category {name!r}: choose one of {', '.join(CATEGORIES)}")
    return name
