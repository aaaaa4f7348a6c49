"""Restyling the embedded corpus: the replayed stream must reproduce the stored motions (the oracle)."""

import shutil

import numpy as np
import pytest

from nomocap.data.humanml import CorpusError
from nomocap.data.synth.corpus import synthesize
from nomocap.data.synth.restyle import restyled_split


@pytest.fixture(scope="module")
def corpus_k(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("k") / "k", "k", size=8, seed=3)


def test_rebuilt_in_its_own_style_equals_the_stored_motions(corpus_k):
    names, feats = restyled_split(corpus_k, "k", "all", seed=3)
    assert len(names) == 16 and any(n.startswith("M") for n in names)  # mirrored twins included
    for name, f in zip(names, feats):
        np.testing.assert_allclose(f, np.load(corpus_k / "new_joint_vecs" / f"{name}.npy"), atol=1e-4)


def test_another_style_changes_the_motion_but_not_its_length(corpus_k):
    names, own = restyled_split(corpus_k, "k", "all", seed=3)
    _, swapped = restyled_split(corpus_k, "h", "all", seed=3)
    assert all(a.shape[1] == b.shape[1] == 263 for a, b in zip(own, swapped))
    assert np.mean([np.abs(a[: len(b)] - b[: len(a)]).mean() for a, b in zip(own, swapped)]) > 1e-2


def test_a_wrong_seed_or_a_corpus_without_meta_is_a_clear_error(corpus_k, tmp_path):
    with pytest.raises(CorpusError, match="--seed"):
        restyled_split(corpus_k, "h", "all", seed=4)
    plain = tmp_path / "plain"
    shutil.copytree(corpus_k, plain)
    shutil.rmtree(plain / "meta")
    with pytest.raises(CorpusError, match="meta"):
        restyled_split(plain, "h", "all", seed=3)
    with pytest.raises(CorpusError, match="style domain"):
        restyled_split(corpus_k, "x", "all", seed=3)
