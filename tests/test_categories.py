import pytest
from conftest import FIXTURES

from nomocap.data.categories import caption_category, check_category, motion_category
from nomocap.data.humanml import load_annotation_splits


@pytest.mark.parametrize("caption, expected", [
    ("a person picks up a box and puts it on the table", "object_manipulation"),
    ("someone bends down to pick something up", "object_manipulation"),
    ("a man throws a ball with his right hand", "object_manipulation"),
    ("a person sits down on a chair", "posture_balance"),
    ("the person squats twice", "posture_balance"),
    ("a person stands on one leg", "posture_balance"),
    ("a human kneels down", "posture_balance"),
    ("a person walks forward", None),
    ("a person waves with the left hand", None),
])
def test_caption_classes(caption, expected):
    assert caption_category(caption) == expected


def test_motion_class_and_aliases():
    assert motion_category(["a person walks", "someone carries a box"]) == "object_manipulation"
    assert check_category("posture") == "posture_balance"
    with pytest.raises(ValueError, match="unknown category"):
        check_category("dancing")


def test_real_kitml_captions_have_both_classes():
    train = load_annotation_splits(FIXTURES / "kitml_texts" / "annotations.json")["train"]
    texts = [t for ts in train.values() for t in ts]
    counts = {c: sum(caption_category(t) == c for t in texts) for c in ("object_manipulation", "posture_balance")}
    assert counts["object_manipulation"] > 100 and counts["posture_balance"] > 100
