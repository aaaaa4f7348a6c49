"""The embedded corpus: layout, determinism, mirrors, the judge against ground truth, bad input."""

import hashlib
import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from nomocap.cli import app
from nomocap.data.check import check_corpus
from nomocap.data.humanml import CorpusError, corpus_gaussian, load_corpus, load_stats
from nomocap.data.synth.actions import FAMILIES, KINDS, all_action_names
from nomocap.data.synth.captions import mirror_caption, parse_caption
from nomocap.data.synth.corpus import synthesize
from nomocap.data.synth.judge import judge_batch, judge_motion
from nomocap.eval.metrics import frechet_distance
from nomocap.motion.features import mirror_joints

runner = CliRunner()
SWAP = {"left": "right", "right": "left", "clockwise": "counterclockwise", "counterclockwise": "clockwise",
        "counter-clockwise": "clockwise", "anticlockwise": "clockwise", "forward": "backward",
        "forwards": "backwards", "backward": "forward", "backwards": "forwards"}
SWAP_RE = re.compile(r"\b(" + "|".join(sorted(SWAP, key=len, reverse=True)) + r")\b")


@pytest.fixture(scope="module")
def corpus_h(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("h") / "h", "h", size=160, seed=3)


@pytest.fixture(scope="module")
def corpus_k(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("k") / "k", "k", size=120, seed=3)


def _pairs(root, split="all"):
    ids = (root / f"{split}.txt").read_text().split()
    for name in ids:
        joints = np.load(root / "new_joints" / f"{name}.npy")
        for line in (root / "texts" / f"{name}.txt").read_text().splitlines():
            yield name, joints, line.split("#")[0]


def test_library_is_broad():
    assert len(all_action_names()) >= 30
    assert {k.family for k in KINDS.values()} == set(FAMILIES)


def test_layout_and_check(corpus_h):
    assert check_corpus(corpus_h) == []
    mean, std = np.load(corpus_h / "Mean.npy"), np.load(corpus_h / "Std.npy")
    assert mean.shape == std.shape == (263,) and np.isfinite(mean).all() and (std > 0).all()
    train = load_corpus(corpus_h, "train")
    assert len(train) > 0 and all(40 <= item.length <= 196 for item in train.items)
    assert all(len(item.texts) == 3 for item in train.items)
    ids = {s: set((corpus_h / f"{s}.txt").read_text().split()) for s in ("train", "val", "test")}
    assert not (ids["train"] & ids["test"]) and len(ids["train"]) > 4 * len(ids["test"]) > 0
    meta = json.loads((corpus_h / "meta" / "000000.json").read_text())
    assert {"actions", "categories", "primitives", "segments"} <= set(meta)


def test_same_seed_same_bytes(tmp_path):
    a = synthesize(tmp_path / "a", "k", size=12, seed=5)
    b = synthesize(tmp_path / "b", "k", size=12, seed=5)

    def digest(root):
        h = hashlib.sha256()
        for p in sorted(root.rglob("*")):
            if p.is_file():
                h.update(p.relative_to(root).as_posix().encode())
                h.update(p.read_bytes())
        return h.hexdigest()

    assert digest(a) == digest(b)
    assert digest(a) != digest(synthesize(tmp_path / "c", "k", size=12, seed=6))


def test_mirror_files_are_mirrors(corpus_h):
    for name in ("000001", "000002", "000007"):
        joints = np.load(corpus_h / "new_joints" / f"{name}.npy")
        mirrored = np.load(corpus_h / "new_joints" / f"M{name}.npy")
        np.testing.assert_allclose(mirrored, mirror_joints(joints), atol=1e-5)
        texts = (corpus_h / "texts" / f"{name}.txt").read_text().splitlines()
        m_texts = (corpus_h / "texts" / f"M{name}.txt").read_text().splitlines()
        assert [mirror_caption(t.split("#")[0]) for t in texts] == [t.split("#")[0] for t in m_texts]


def test_motions_are_grounded_and_smooth(corpus_h):
    for name, joints, _ in list(_pairs(corpus_h, "test"))[::9]:
        feet = joints[:, [7, 8, 10, 11], 1]
        assert feet.min() > -0.02, name  # no ground penetration
        accel = np.abs(np.diff(joints, 2, axis=0)).max()
        assert accel < 0.6, name  # metres per frame^2; the real walk 012314 peaks at 0.28


@pytest.mark.parametrize("fixture", ["corpus_h", "corpus_k"])
def test_judge_agrees_with_ground_truth(fixture, request):
    root = request.getfixturevalue(fixture)
    pairs = list(_pairs(root))
    result = judge_batch([j for _, j, _ in pairs], [c for _, _, c in pairs])
    assert result["unparsed"] == 0
    assert result["accuracy"] >= 0.98, {k: v for k, v in result["per_attribute"].items() if v < 0.95}


@pytest.mark.parametrize("fixture", ["corpus_h", "corpus_k"])
def test_judge_rejects_contradicting_captions(fixture, request):
    root = request.getfixturevalue(fixture)
    tested = failed = 0
    for _, joints, caption in _pairs(root):
        swapped = SWAP_RE.sub(lambda m: SWAP[m.group(0)], caption)
        claimed = parse_caption(swapped)
        if not claimed or claimed == parse_caption(caption):
            continue  # the swap changed nothing the grammar asserts (or left it, e.g. "jumps backward")
        tested += 1
        failed += not all(judge_motion(joints, swapped).values())
    assert tested > 50 and failed / tested >= 0.95


def test_judge_on_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        judge_motion(np.full((30, 22, 3), np.nan), "a person walks forward")
    assert judge_motion(np.zeros((30, 22, 3)) + np.arange(22)[None, :, None] * 0.01, "xyzzy") == {}


def _feature_frechet(a_root, b_root, norm_root):
    """Fréchet distance of two corpora's feature frames, normalised by a third's Mean/Std."""
    norm = load_stats(norm_root)
    return frechet_distance(*corpus_gaussian(a_root, norm), *corpus_gaussian(b_root, norm))


def test_domains_differ_more_than_seeds(corpus_h, corpus_k, tmp_path):
    other_h = synthesize(tmp_path / "h2", "h", size=160, seed=11)
    same = _feature_frechet(corpus_h, other_h, corpus_h)
    across = _feature_frechet(corpus_h, corpus_k, corpus_h)
    assert across > 2.5 * same, (same, across)


@pytest.mark.slow
def test_full_size_domains_differ_far_more_than_seeds(tmp_path):
    h, h2, k = (synthesize(tmp_path / n, d, seed=s) for n, d, s in (("h", "h", 0), ("h2", "h", 1), ("k", "k", 0)))
    assert _feature_frechet(h, k, h) > 10 * _feature_frechet(h, h2, h)


def test_synth_refuses_to_overwrite_and_bad_args(tmp_path):
    root = synthesize(tmp_path / "x", "k", size=3, seed=0)
    before = sorted(p.name for p in (root / "texts").iterdir())
    with pytest.raises(CorpusError, match="--force"):
        synthesize(root, "k", size=5, seed=1)
    assert sorted(p.name for p in (root / "texts").iterdir()) == before  # nothing half-overwritten
    for args, needle in ((["--size", "0"], "--size"), (["--domain", "q"], "domain"), ([], "--force")):
        result = runner.invoke(app, ["data", "synth", "--out", str(root), *args])
        assert result.exit_code == 2 and needle in result.output and "Traceback" not in result.output
    assert synthesize(root, "k", size=5, seed=1, force=True) == root
    assert len((root / "all.txt").read_text().split()) == 10


def test_reach_and_categories_commands(corpus_h):
    result = runner.invoke(app, ["data", "reach", str(corpus_h), "--category", "posture_balance"])
    assert result.exit_code == 0, result.output
    assert "every primitive elsewhere" in result.output
    result = runner.invoke(app, ["data", "categories", str(corpus_h)])
    assert result.exit_code == 0 and "object_manipulation" in result.output
