"""Instruction precision: swapped twins, axes, and the confusion cells on real (corpus) motions."""

import numpy as np
import pytest

from nomocap.data.synth.corpus import synthesize
from nomocap.eval.precision import confusion_markdown, precision_axis, precision_confusion, swap_instruction


def test_swap_instruction_and_axes():
    assert swap_instruction("A person waves the Left hand and walks forward.") == \
        "A person waves the Right hand and walks backward."
    assert swap_instruction("someone circles clockwise") == "someone circles counterclockwise"
    assert precision_axis("walks in a counterclockwise circle with the left arm up") == "rotation"
    assert precision_axis("steps backwards") == "travel" and precision_axis("a person jumps") is None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("prec") / "k", "k", size=60, seed=4)


def test_real_motions_follow_their_instruction_and_mirrors_do_the_opposite(corpus):
    motions, captions = [], []
    for path in sorted((corpus / "texts").glob("*.txt")):
        caption = path.read_text().splitlines()[0].split("#")[0]
        if precision_axis(caption):
            motions.append(np.load(corpus / "new_joints" / f"{path.stem}.npy"))
            captions.append(caption)
    assert len(captions) >= 10
    real = precision_confusion(motions, captions)
    assert real["shares"]["all"]["followed"] > 0.9, real
    # The same motions under their swapped captions: the cells trade places.
    swapped = precision_confusion(motions, [swap_instruction(c) for c in captions])
    assert swapped["shares"]["all"]["opposite"] == pytest.approx(real["shares"]["all"]["followed"])
    assert "| real | all |" in confusion_markdown({"real": real})
