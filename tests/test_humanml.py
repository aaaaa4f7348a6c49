import shutil

import numpy as np
import pytest
from conftest import FIXTURES, SAMPLE
from typer.testing import CliRunner

from nomocap.cli import app
from nomocap.data.check import check_corpus
from nomocap.data.humanml import CorpusError, load_annotation_splits, load_corpus, parse_caption_line

runner = CliRunner()


def make_corpus(root, n=6):
    """A small corpus in the official layout, cut from the real motion 012314."""
    feats = np.load(SAMPLE / "new_joint_vecs" / "012314.npy")
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    ids = [f"{i:06d}" for i in range(n)]
    for k, name in enumerate(ids):
        np.save(root / "new_joint_vecs" / f"{name}.npy", feats[k * 5 : k * 5 + 100])
        (root / "texts" / f"{name}.txt").write_text(
            "a person walks forward.#a/DET person/NOUN walk/VERB forward/ADV#0.0#0.0\n"
            "someone strolls ahead#someone/PRON stroll/VERB ahead/ADV#0.0#0.0\n"
            "a person takes a few steps#a/DET person/NOUN take/VERB#0.5#3.5\n"
        )
    (root / "train.txt").write_text("\n".join(ids[:4]) + "\n")
    (root / "val.txt").write_text(ids[4] + "\n")
    (root / "test.txt").write_text(ids[5] + "\n")
    shutil.copy(SAMPLE / "Mean.npy", root / "Mean.npy")
    shutil.copy(SAMPLE / "Std.npy", root / "Std.npy")
    return ids


def test_load_corpus_reads_layout_and_crops(tmp_path):
    make_corpus(tmp_path)
    corpus = load_corpus(tmp_path, "train")
    assert corpus.skeleton.name == "t2m"
    whole = [it for it in corpus.items if "#" not in it.name]
    crops = [it for it in corpus.items if "#" in it.name]
    assert len(whole) == 4 and all(len(it.texts) == 2 and it.length == 100 for it in whole)
    assert len(crops) == 4 and all(it.length == 60 for it in crops)  # 0.5 s .. 3.5 s at 20 fps
    assert corpus.captions()[0] == "a person walks forward."


def test_caption_parser():
    cap = parse_caption_line("a man jumps#a/DET man/NOUN jump/VERB#1.5#3.0")
    assert (cap.text, cap.start, cap.end, cap.tokens[1]) == ("a man jumps", 1.5, 3.0, "man/NOUN")
    with pytest.raises(ValueError, match="4"):
        parse_caption_line("only#two")
    with pytest.raises(ValueError, match="empty"):
        parse_caption_line(" #x#0.0#0.0")


def test_check_passes_on_good_corpus(tmp_path):
    make_corpus(tmp_path)
    assert [p for p in check_corpus(tmp_path) if p.severity == "error"] == []
    result = runner.invoke(app, ["data", "check", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output


def test_check_names_every_corrupted_file(tmp_path):
    ids = make_corpus(tmp_path)
    vecs = tmp_path / "new_joint_vecs"
    raw = (vecs / f"{ids[0]}.npy").read_bytes()
    (vecs / f"{ids[0]}.npy").write_bytes(raw[: len(raw) // 2])  # truncated
    nan = np.load(vecs / f"{ids[1]}.npy")
    nan[7] = np.nan
    np.save(vecs / f"{ids[1]}.npy", nan)
    np.save(vecs / f"{ids[2]}.npy", np.zeros((100, 251), np.float32))  # a KIT-width file
    (tmp_path / "texts" / f"{ids[3]}.txt").write_text("a person walks#0.0\n")  # 2 fields
    with open(tmp_path / "test.txt", "a") as f:
        f.write("999999\n")  # no such motion
    problems = check_corpus(tmp_path)
    errors = {p.path.split("/")[-1]: p.message for p in problems if p.severity == "error"}
    assert "not a readable" in errors[f"{ids[0]}.npy"]
    assert "NaN" in errors[f"{ids[1]}.npy"] and "frame 7" in errors[f"{ids[1]}.npy"]
    assert "251" in errors[f"{ids[2]}.npy"]
    assert "4 '#'-separated" in errors[f"{ids[3]}.txt:1"]
    assert "missing" in errors["999999.npy"]
    result = runner.invoke(app, ["data", "check", str(tmp_path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    for name in (f"{ids[0]}.npy", f"{ids[1]}.npy", f"{ids[2]}.npy", f"{ids[3]}.txt", "999999.npy"):
        assert name in result.output.replace("\n", "")


def test_check_warns_about_lengths_the_loader_skips(tmp_path):
    ids = make_corpus(tmp_path)
    np.save(tmp_path / "new_joint_vecs" / f"{ids[0]}.npy", np.zeros((20, 263), np.float32))
    problems = check_corpus(tmp_path)
    assert {p.severity for p in problems} == {"warning"}
    assert any("20 frames" in p.message for p in problems)
    assert runner.invoke(app, ["data", "check", str(tmp_path)]).exit_code == 0
    assert runner.invoke(app, ["data", "check", str(tmp_path), "--strict"]).exit_code == 1
    assert ids[0] in load_corpus(tmp_path, "train").skipped


def test_loader_refuses_corrupt_file_naming_it(tmp_path):
    ids = make_corpus(tmp_path)
    np.save(tmp_path / "new_joint_vecs" / f"{ids[1]}.npy", np.zeros((100, 251), np.float32))
    with pytest.raises(CorpusError, match=f"{ids[1]}.npy"):
        load_corpus(tmp_path, "train")


def test_kitml_prompts_load_per_split():
    splits = load_annotation_splits(FIXTURES / "kitml_texts" / "annotations.json")
    assert {k: len(v) for k, v in splits.items()} == {"train": 4688, "val": 292, "test": 786}
    assert splits["train"]["00001"] == ["A person is walking forwards."]
    result = runner.invoke(app, ["data", "prompts", str(FIXTURES / "kitml_texts" / "annotations.json")])
    assert result.exit_code == 0 and "4688" in result.output


def test_exported_annotations_give_the_corpus_prompts(tmp_path):
    from nomocap.data.prompts import load_prompts

    make_corpus(tmp_path / "corpus")
    result = runner.invoke(app, ["data", "annotations", str(tmp_path / "corpus"), "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    exported = tmp_path / "p" / "annotations.json"
    for split in ("train", "val", "test"):
        from_corpus = load_prompts(tmp_path / "corpus", split)
        assert load_prompts(exported, split) == from_corpus  # same texts, lengths and order
    # The cropped caption (0.5-3.5 s) keeps its crop's length, not the whole clip's.
    assert sorted({p.frames for p in load_prompts(exported, "train")}) == [60, 100]
    again = runner.invoke(app, ["data", "annotations", str(tmp_path / "corpus"), "--out", str(tmp_path / "p")])
    assert again.exit_code != 0 and "remove it or choose another --out" in " ".join(again.output.split())


def test_exported_annotations_keep_a_kit_corpus_lengths(tmp_path):
    """KIT-ML runs at 12.5 fps: the seconds written are read back at the model's rate, not HumanML3D's 20."""
    from nomocap.data.prompts import load_prompts

    root = tmp_path / "kit"
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    rng = np.random.default_rng(0)
    for i, frames in enumerate((60, 90, 120)):
        np.save(root / "new_joint_vecs" / f"{i:06d}.npy", rng.standard_normal((frames, 251)).astype(np.float32))
        (root / "texts" / f"{i:06d}.txt").write_text(f"a person walks {i} steps#a/DET#0.0#0.0\n")
    (root / "train.txt").write_text("000000\n000001\n000002\n")
    np.save(root / "Mean.npy", np.zeros(251, np.float32))
    np.save(root / "Std.npy", np.ones(251, np.float32))
    result = runner.invoke(app, ["data", "annotations", str(root), "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    exported = load_prompts(tmp_path / "p" / "annotations.json", "train", fps=12.5)
    assert exported == load_prompts(root, "train") and [p.frames for p in exported] == [60, 88, 120]


def test_merged_corpora_are_the_prefixed_union_with_stats_over_both_training_sets(tmp_path):
    make_corpus(tmp_path / "h", n=6)
    make_corpus(tmp_path / "k", n=6)
    (tmp_path / "k" / "test.txt").unlink()  # a corpus without a test split: the union has h's alone
    result = runner.invoke(app, ["data", "merge", str(tmp_path / "h"), str(tmp_path / "k"), "--out",
                                 str(tmp_path / "hk")])
    assert result.exit_code == 0, result.output
    hk = tmp_path / "hk"
    assert (hk / "train.txt").read_text().split() == [f"{c}_{i:06d}" for c in "hk" for i in range(4)]
    assert (hk / "val.txt").read_text().split() == ["h_000004", "k_000004"]
    assert (hk / "test.txt").read_text().split() == ["h_000005"]
    for c in "hk":
        assert np.array_equal(np.load(hk / "new_joint_vecs" / f"{c}_000002.npy"),
                              np.load(tmp_path / c / "new_joint_vecs" / "000002.npy"))
        assert (hk / "texts" / f"{c}_000002.txt").read_text() == (tmp_path / c / "texts" / "000002.txt").read_text()
    # HumanML3D's Mean.npy: the per-dimension mean over every training frame of both corpora, by hand.
    frames = np.concatenate([np.load(tmp_path / c / "new_joint_vecs" / f"{i:06d}.npy") for c in "hk" for i in range(4)])
    np.testing.assert_allclose(np.load(hk / "Mean.npy"), frames.mean(0), rtol=1e-5, atol=1e-5)
    assert np.load(hk / "Std.npy").shape == frames.shape[1:]
    assert len(load_corpus(hk, "train").items) == 2 * len(load_corpus(tmp_path / "h", "train").items)
    assert not [p for p in check_corpus(hk) if p.severity == "error"]


def test_merge_refuses_other_skeletons_and_an_occupied_folder(tmp_path):
    from nomocap.data.merge import merge_corpora

    make_corpus(tmp_path / "h", n=6)
    kit = tmp_path / "kit"
    (kit / "new_joint_vecs").mkdir(parents=True)
    np.save(kit / "Mean.npy", np.zeros(251, np.float32))
    with pytest.raises(CorpusError, match="different skeletons.*retarget"):
        merge_corpora([tmp_path / "h", kit], tmp_path / "out")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["data", "merge", str(tmp_path / "h"), str(tmp_path / "h"), "--out",
                                 str(tmp_path / "busy")])
    assert result.exit_code != 0 and "--force" in " ".join(result.output.split())
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "out").exists()
    # Two folders of one name are numbered instead of colliding.
    merge_corpora([tmp_path / "h", tmp_path / "h"], tmp_path / "twice")
    assert (tmp_path / "twice" / "test.txt").read_text().split() == ["c0_000005", "c1_000005"]
