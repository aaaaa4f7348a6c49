"""The experiment drivers end to end on the tiny preset: files, table layout, stage reuse."""

import hashlib
import json
import shutil

import numpy as np
import pytest
from conftest import random_motion
from rich.console import Console
from typer.testing import CliRunner

from nomocap.cli import app
from nomocap.data.prompts import load_prompts, write_annotations
from nomocap.data.synth.corpus import synthesize
from nomocap.experiments import leave_one_out
from nomocap.experiments.common import SHIPPED, ExperimentConfig, shipped
from nomocap.experiments.stages import config_hash, run_stage
from nomocap.motion.features import joints_to_features
from nomocap.report import write_html

runner = CliRunner()


def test_cross_dataset_tiny_writes_results_and_reuses_stages(tmp_path):
    tiny = ["experiment", "cross-dataset", "--preset", "tiny", "--arch", "mdm", "--out", str(tmp_path), "--seeds",
            "0", "--from-scratch"]
    args = tiny + ["--best-of", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "results.json").read_text())
    for row in ("base", "best_of", "finetuned", "ground_truth"):
        assert len(rows[row]["r_precision"]["mean"]) == 3 and len(rows[row]["r_precision"]["ci"]) == 3
        for metric in ("fid", "mm_dist", "diversity", "judge_accuracy"):
            assert {"mean", "ci"} <= rows[row][metric].keys(), (row, metric)
    for row in ("base", "finetuned", "ground_truth"):  # Table 3: forgetting with an evaluator of the source
        assert {"mean", "ci"} <= rows["source"][row]["fid"].keys(), row
    assert rows["source"]["ground_truth"]["fid"]["mean"] < rows["source"]["base"]["fid"]["mean"]
    md = (tmp_path / "results.md").read_text()
    assert "| Fine-tuned (ours) |" in md and "Table 3" in md and "best of 2 by the reward" in md
    table, after = md.split("Every motion sampled by 10-step dpm++ with classifier-free guidance 2.5.")
    assert "| Fine-tuned (ours) |" in table and "Forgetting" in after  # said under the table it is about
    assert (tmp_path / "report.html").read_text().count("data:image/png;base64") >= 1
    for stage in ("finetune_s0", "base", "source_evaluator"):
        assert (tmp_path / stage / ".stage.json").exists(), stage
    # A comparison method in the same folder: every stage but its own fine-tuning is reused, DDPO's is kept (RAFT
    # the same way: test_cross_dataset_tiny_by_raft, slow).
    ddpo_marker = (tmp_path / "finetune_s0" / ".stage.json").read_text()
    # Rows measured once: real motions, the base and the fine-tuned model, on the target and on the source.
    assert len(list((tmp_path / "measured").glob("table-row-*.json"))) == 6
    result = runner.invoke(app, tiny + ["--method", "draft"])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "measured").glob("table-row-*.json"))) == 8  # only the DRaFT model was measured
    assert json.loads((tmp_path / "results.json").read_text())["base"] == rows["base"]
    assert "reusing pretraining base" in " ".join(result.output.split())
    assert (tmp_path / "draft_s0" / "best" / "adapter_model.safetensors").exists()
    assert (tmp_path / "finetune_s0" / ".stage.json").read_text() == ddpo_marker
    assert "| Fine-tuned by DRaFT (reward gradient) |" in (tmp_path / "results.md").read_text()
    # A second pretrained base: its own pretraining and fine-tuning stages, the first base's reused as they were.
    # With the adapters scaled to 0 (evaluation only) each fine-tuned model is its own base: every paired judge
    # difference is exactly 0 only if each base is paired with its own fine-tuned models.
    one_base = json.loads((tmp_path / "results.json").read_text())
    draft_marker = (tmp_path / "draft_s0" / ".stage.json").read_text()
    result = runner.invoke(app, tiny + ["--method", "draft", "--base-seeds", "0,1", "--adapter-scale", "0"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "draft_s0" / ".stage.json").read_text() == draft_marker
    assert json.loads((tmp_path / "base_seed1" / ".stage.json").read_text())["config"]["seed"] == 1
    assert "seed" not in json.loads((tmp_path / "base" / ".stage.json").read_text())["config"]
    assert (tmp_path / "draft_b1_s0" / "best" / "adapter_model.safetensors").exists()
    assert (tmp_path / "base_seed1" / "model.safetensors").read_bytes() != (tmp_path / "base" /
                                                                            "model.safetensors").read_bytes()
    two_bases = json.loads((tmp_path / "results.json").read_text())
    assert len(two_bases["per_base"]) == 2 and two_bases["per_base"][0]["base"] == one_base["base"]
    for pair in two_bases["per_base"]:
        for metric in ("fid", "mm_dist", "diversity"):
            assert pair["finetuned"][metric]["mean"] == pytest.approx(pair["base"][metric]["mean"], rel=1e-5), metric
    paired = two_bases["judge_paired"]
    assert paired["bases"] == 2 and paired["models"] == 2
    assert paired["delta"] == 0.0 and [b["delta"] for b in paired["per_base"]] == [0.0, 0.0]
    # The base row pools the two bases' means (1.96·std/√2): the second base's mean follows from the first's.
    first, pooled = one_base["base"]["fid"]["mean"], two_bases["base"]["fid"]
    assert pooled["ci"] == pytest.approx(1.96 * abs(2 * pooled["mean"] - 2 * first) / 2 / np.sqrt(2))
    md = (tmp_path / "results.md").read_text()
    assert "Pretrained on h (2 bases)" in md and "| Fine-tuned from seed 1 |" in md
    assert "| Fine-tuned by DRaFT (reward gradient), adapters × 0 |" in md
    # A base of the user's (here the second pretrained one): fine-tuned in a stage named after its folder, its
    # rows the same measurements as when the driver had pretrained it.
    result = runner.invoke(app, tiny + ["--method", "draft", "--base", str(tmp_path / "base_seed1"),
                                        "--adapter-scale", "0"])
    assert result.exit_code == 0, result.output
    given = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "draft_base_seed1_s0" / "best" / "adapter_model.safetensors").exists()
    assert given["base"] == two_bases["per_base"][1]["base"] and "per_base" not in given
    assert given["judge_paired"]["delta"] == 0.0
    loo = runner.invoke(app, ["experiment", "leave-one-out", "--preset", "tiny", "--out", str(tmp_path / "l"),
                              "--base", str(tmp_path / "base")])
    assert loo.exit_code != 0 and "--base is cross-dataset's" in loo.output and not (tmp_path / "l").exists()
    # The reward model trained on source and target together: the merged corpus and its reward are stages too.
    result = runner.invoke(app, tiny + ["--reward-data", "both"])
    assert result.exit_code == 0, result.output
    merged = tmp_path / "data" / "h+k"
    assert json.loads((tmp_path / "reward_both" / ".stage.json").read_text())["config"]["data"].endswith("h+k")
    train = (merged / "train.txt").read_text().split()
    assert {i.split("_")[0] for i in train} == {"h", "k"}
    assert len(train) == sum(len((tmp_path / "data" / d / "train.txt").read_text().split()) for d in "hk")
    assert json.loads((tmp_path / "finetune_s0" / ".stage.json").read_text())["config"]["reward"].endswith(
        "reward_both")
    bad = runner.invoke(app, ["experiment", "cross-dataset", "--preset", "tiny", "--out", str(tmp_path / "x"),
                              "--reward-data", "source"])
    assert bad.exit_code != 0 and "choose target or both" in bad.output and not (tmp_path / "x").exists()


@pytest.mark.slow
def test_cross_dataset_tiny_by_raft(tmp_path):
    result = runner.invoke(app, ["experiment", "cross-dataset", "--preset", "tiny", "--out", str(tmp_path), "--seeds",
                                 "0", "--from-scratch", "--method", "raft"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "raft_s0" / "best" / "adapter_model.safetensors").exists()
    assert not (tmp_path / "finetune_s0").exists()
    assert "| Fine-tuned by RAFT (comparison) |" in (tmp_path / "results.md").read_text()


@pytest.mark.parametrize("command", [["experiment", "cross-dataset"], ["demo"]])
def test_an_unknown_arch_fails_before_any_corpus_is_made(tmp_path, command):
    result = runner.invoke(app, command + ["--arch", "unet", "--preset", "tiny", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "unknown --arch 'unet'" in result.output
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("name", ["precision", "forgetting"])
def test_the_sections_of_cross_dataset_named_as_experiments_point_to_it(tmp_path, name):
    result = runner.invoke(app, ["experiment", name, "--preset", "tiny", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "run nomocap experiment cross-dataset" in " ".join(result.output.split())
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("option, message", [
    (["--adapter-scale", "-1"], "--adapter-scale must be a finite number >= 0"),
    (["--base-seeds", "0,0"], "give distinct non-negative pretraining seeds"),
    (["--base-seeds", "0,a"], "give comma-separated integers"),
    (["--guidance", "-1"], "give a finite scale >= 0"),
    (["--set", "guidance=5"], "give --guidance instead"),
    (["--base", "runs/b", "--base-seeds", "0,1"], "give --base RUN or --base-seeds, not both"),
    (["--base", "no/such/run"], "is not a nomocap run folder"),
    (["--base", str(SHIPPED / "reward_small")], "expected a 'denoiser' run"),
    (["--base", str(SHIPPED / "base_small_mld_guo")], "pass --arch mld --repr guo")])
def test_a_bad_option_fails_before_any_corpus_is_made(tmp_path, option, message):
    result = runner.invoke(app, ["experiment", "cross-dataset", "--preset", "tiny", *option,
                                 "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and message in " ".join(result.output.split())
    assert not (tmp_path / "x").exists()


def test_demo_refuses_an_unknown_method_before_any_corpus_is_made(tmp_path):
    result = runner.invoke(app, ["demo", "--method", "ppo", "--preset", "tiny", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "unknown fine-tuning method 'ppo'" in result.output
    assert not (tmp_path / "x").exists()


def test_a_finished_stage_is_reused_and_a_changed_config_rebuilds_it(tmp_path):
    calls = []

    def make(folder):
        calls.append(folder.name)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "out.txt").write_text(str(len(calls)))

    console = Console(quiet=True)
    run_stage(tmp_path / "s", {"a": 1}, make, console, "stage")
    run_stage(tmp_path / "s", {"a": 1}, make, console, "stage")
    assert len(calls) == 1  # reused
    run_stage(tmp_path / "s", {"a": 2}, make, console, "stage")
    assert len(calls) == 2 and (tmp_path / "s" / "out.txt").read_text() == "2"  # settings changed: rebuilt


def test_a_linked_stage_with_changed_settings_is_an_error_and_kept(tmp_path):
    def make(folder):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "out.txt").write_text("done")

    console = Console(quiet=True)
    run_stage(tmp_path / "a" / "base", {"lr": 1}, make, console, "base")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "base").symlink_to(tmp_path / "a" / "base")
    with pytest.raises(ValueError, match="is a link to .*nothing was deleted"):
        run_stage(tmp_path / "b" / "base", {"lr": 2}, make, console, "base")
    assert (tmp_path / "a" / "base" / "out.txt").read_text() == "done"


def test_a_moved_experiment_folder_reuses_its_stages(tmp_path):
    calls = []

    def make(folder):
        calls.append(folder)
        folder.mkdir(parents=True, exist_ok=True)

    console = Console(quiet=True)
    first = tmp_path / "first"
    config = {"data": str(first / "data" / "h"), "nested": {"base": str(first / "base")}, "lr": 0.002}
    run_stage(first / "finetune_s0", config, make, console, "stage")
    shutil.copytree(first, tmp_path / "moved")
    moved = tmp_path / "moved"
    config_there = {"data": str(moved / "data" / "h"), "nested": {"base": str(moved / "base")}, "lr": 0.002}
    run_stage(moved / "finetune_s0", config_there, make, console, "stage")
    assert calls == [first / "finetune_s0"]  # the copy's paths point into the copy: same stage, reused
    run_stage(moved / "finetune_s0", config_there | {"data": str(first / "data" / "h")}, make, console, "stage")
    assert calls[-1] == moved / "finetune_s0"  # data outside the copy is another setting: rebuilt


def test_a_data_folder_linked_into_a_moved_experiment_is_still_inside_it(tmp_path):
    calls = []
    console = Console(quiet=True)
    shared = tmp_path / "corpora" / "h"
    shared.mkdir(parents=True)
    for name in ("first", "second"):  # two experiments sharing one corpus through a link each
        (tmp_path / name).mkdir()
        (tmp_path / name / "data").symlink_to(tmp_path / "corpora")
        run_stage(tmp_path / name / "base", {"data": str(tmp_path / name / "data" / "h")},
                  lambda f: (calls.append(f), f.mkdir(parents=True, exist_ok=True)), console, "stage")
    marker = json.loads((tmp_path / "first" / "base" / ".stage.json").read_text())
    assert marker["config"]["data"] == "{experiment}/data/h"
    shutil.rmtree(tmp_path / "second" / "base")
    shutil.copytree(tmp_path / "first" / "base", tmp_path / "second" / "base")
    run_stage(tmp_path / "second" / "base", {"data": str(tmp_path / "second" / "data" / "h")},
              lambda f: calls.append(f), console, "stage")
    assert calls == [tmp_path / "first" / "base", tmp_path / "second" / "base"]  # the copied stage was reused


def test_a_stage_marker_with_absolute_paths_is_still_reused(tmp_path):
    (tmp_path / "s").mkdir()
    legacy = {"data": str(tmp_path / "data"), "seed": 1}  # a marker written before paths were made portable
    (tmp_path / "s" / ".stage.json").write_text(json.dumps({"hash": config_hash(legacy), "config": legacy}))
    run_stage(tmp_path / "s", legacy, lambda f: (_ for _ in ()).throw(AssertionError("rebuilt")),
              Console(quiet=True), "stage")


def test_leave_one_out_tiny_reports_rows_and_reach(tmp_path):
    cfg = leave_one_out.LeaveOneOutConfig(preset="tiny", categories=["posture_balance"], use_shipped=False,
                                          reach_captions=3, reach_samples=4)
    results = leave_one_out.run(tmp_path, cfg)
    rows = results["posture_balance"]
    assert {"ground_truth", "full", "without", "finetuned", "reach"} <= rows.keys()
    for name in ("full", "without"):
        reach = rows["reach"][name]
        assert reach["captions"] == 3 and 0.0 <= reach["sample_pass_rate"] <= reach["reach"] <= 1.0
    assert "Without it + RL (ours)" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "report.html").exists()

    # A second class-less base: only it is pretrained, fine-tuned and measured; the rows pool over both bases.
    cfg.base_seeds = [0, 1]
    two = leave_one_out.run(tmp_path, cfg)["posture_balance"]
    assert (tmp_path / "base_without_posture_balance_seed1").is_dir()
    assert (tmp_path / "finetune_posture_balance_b1_s0" / "best").is_dir()
    first, second = two["per_base"]
    assert first["base"] == rows["without"] and first["finetuned"] == rows["finetuned"]
    assert second["base"] != first["base"] and two["full"] == rows["full"]
    pooled = np.mean([first["base"]["fid"]["mean"], second["base"]["fid"]["mean"]])
    assert two["without"]["fid"]["mean"] == pytest.approx(pooled)
    reach = two["reach"]["without"]
    assert reach["per_base"][0] == rows["reach"]["without"]
    assert reach["reach"] == pytest.approx(np.mean([r["reach"] for r in reach["per_base"]]))
    assert len(two["judge_paired"]["per_base"]) == 2
    assert "Per class-less base" in (tmp_path / "results.md").read_text()


def test_report_renders_paragraphs_and_tables(tmp_path):
    md = "Some numbers:\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nA closing remark."
    page = write_html(tmp_path / "r.html", "t", [("section", md)]).read_text()
    assert "<td>1</td>" in page and "<p>Some numbers:</p>" in page and "<p>A closing remark.</p>" in page


def test_shipped_checkpoints_stand_in_only_for_the_default_corpora():
    small = ExperimentConfig(preset="small")
    for kind, domain, tag in [("base", "h", "base_small_mdm_guo"), ("retrieval", "k", "reward_small"),
                              ("retrieval", "h", "reward_small_h"), ("evaluator", "k", "evaluator_small"),
                              ("evaluator", "h", "evaluator_small_h")]:
        assert shipped(kind, domain, small) == SHIPPED / tag
    assert shipped("base", "k", small) is None  # nothing pretrained on k ships
    assert shipped("retrieval", "h", ExperimentConfig(preset="small", data_seed=1)) is None
    assert shipped("retrieval", "h", ExperimentConfig(preset="small", use_shipped=False)) is None
    assert shipped("evaluator", "k", ExperimentConfig(preset="tiny")) is None


def _foreign_corpora(root):
    """Tiny h and k corpora in the HumanML3D layout whose captions the judge cannot read (as a real data set's
    would be): each caption replaced by a phrase outside the embedded grammar, tokens and times kept."""
    folders = {}
    for domain, size in (("h", 150), ("k", 100)):
        folders[domain] = synthesize(root / f"mocap_{domain}", domain, size, 0, force=True)
        for path in (folders[domain] / "texts").glob("*.txt"):
            lines = []
            for line in path.read_text().splitlines():
                caption, *rest = line.split("#")
                lines.append("#".join([f"the subject performs routine {hashlib.md5(caption.encode()).hexdigest()[:6]}",
                                       *rest]))
            path.write_text("\n".join(lines) + "\n")
    return folders["h"], folders["k"]


def test_cross_dataset_on_corpus_folders_with_prompts_the_judge_cannot_read(tmp_path):
    source, target = _foreign_corpora(tmp_path)
    write_annotations(target, tmp_path / "prompts")
    out = tmp_path / "xd"
    args = ["experiment", "cross-dataset", "--preset", "tiny", "--source", str(source), "--target", str(target),
            "--prompts", str(tmp_path / "prompts" / "annotations.json"), "--out", str(out), "--seeds", "0"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "results.json").read_text())
    assert {"ground_truth", "base", "finetuned", "source"} <= rows.keys()
    assert not {"judge_paired", "precision", "forgetting"} & rows.keys()  # nothing the judge could not check
    assert "judge_accuracy" not in rows["base"] and len(rows["finetuned"]["r_precision"]["mean"]) == 3
    md = (out / "results.md").read_text()
    assert "| Pretrained on mocap_h |" in md and "the judge rows are left out" in md
    assert not (out / "data").exists()  # the folders are used where they are, not copied
    stage = json.loads((out / "finetune_s0" / ".stage.json").read_text())["config"]
    assert stage["prompt_source"].split()[0].endswith("annotations.json")
    assert stage["prompts"] == len(load_prompts(tmp_path / "prompts" / "annotations.json", "train"))
    assert json.loads((out / "base" / ".stage.json").read_text())["config"]["data"] == str(source.resolve())


def test_a_corpus_folder_that_cannot_serve_fails_before_any_work(tmp_path):
    target = tmp_path / "k"
    synthesize(target, "k", 100, 0, force=True)

    def refused(*extra: str) -> str:
        result = runner.invoke(app, ["experiment", "cross-dataset", "--preset", "tiny", "--out", str(tmp_path / "x"),
                                     *extra])
        assert result.exit_code != 0 and not (tmp_path / "x").exists(), result.output
        return " ".join(result.output.split())

    assert "neither an embedded domain (h or k) nor a corpus folder" in refused("--source", str(tmp_path / "none"))
    kit = tmp_path / "kit"
    shutil.copytree(target, kit)
    np.save(kit / "Mean.npy", np.zeros(251, np.float32))
    np.save(kit / "Std.npy", np.ones(251, np.float32))
    assert "are on different skeletons" in refused("--target", str(kit))
    (kit / "Mean.npy").unlink()
    assert "lacks Mean.npy" in refused("--target", str(kit))
    assert "cannot read annotations" in refused("--target", str(target), "--prompts", str(tmp_path / "no.json"))
    (tmp_path / "empty.txt").write_text("# nothing but a comment\n")
    assert "no prompts" in refused("--prompts", str(tmp_path / "empty.txt"))
    result = runner.invoke(app, ["experiment", "leave-one-out", "--preset", "tiny", "--out", str(tmp_path / "x"),
                                 "--source", str(kit)])
    assert result.exit_code != 0 and "lacks Mean.npy" in " ".join(result.output.split())
    assert not (tmp_path / "x").exists()


def test_leave_one_out_on_a_corpus_folder_without_the_class_fails_before_pretraining(tmp_path):
    source, _ = _foreign_corpora(tmp_path)  # no caption names a posture or an object: no class to leave out
    result = runner.invoke(app, ["experiment", "leave-one-out", "--preset", "tiny", "--source", str(source),
                                 "--categories", "posture_balance", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "no train captions of category posture_balance" in " ".join(result.output.split())
    assert not (tmp_path / "x" / "base_full").exists()


def _kit_corpus(root, seed: int):
    """A tiny corpus in KIT-ML's own format (21 joints in mm, 12.5 fps, 251-d features) of random smooth motions."""
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    verbs = ["walks forward", "waves", "jumps", "turns around", "kicks", "sits down", "runs", "claps"]
    ids = [f"{i:05d}" for i in range(60)]
    for i, name in enumerate(ids):
        joints = random_motion(seed + i, frames=41 + (i * 7) % 80, skeleton="kit")
        np.save(root / "new_joint_vecs" / f"{name}.npy", joints_to_features(joints, "kit").astype(np.float32))
        (root / "texts" / f"{name}.txt").write_text(f"a person {verbs[i % 8]}#a/DET person/NOUN#0.0#0.0\n")
    for split, part in (("train", ids[:40]), ("val", ids[40:48]), ("test", ids[48:])):
        (root / f"{split}.txt").write_text("\n".join(part) + "\n")
    train = np.concatenate([np.load(root / "new_joint_vecs" / f"{name}.npy") for name in ids[:40]])
    np.save(root / "Mean.npy", train.mean(0))
    np.save(root / "Std.npy", train.std(0) + 1e-3)
    return root


def test_cross_dataset_on_kit_format_corpora_runs_without_the_judge(tmp_path):
    source, target = _kit_corpus(tmp_path / "kit_a", 0), _kit_corpus(tmp_path / "kit_b", 1000)
    out = tmp_path / "xd"
    result = runner.invoke(app, ["experiment", "cross-dataset", "--preset", "tiny", "--source", str(source),
                                 "--target", str(target), "--out", str(out), "--seeds", "0"])
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "results.json").read_text())
    assert "judge_accuracy" not in rows["ground_truth"] and "judge_paired" not in rows  # the judge reads t2m only
    assert len(rows["finetuned"]["r_precision"]["mean"]) == 3 and rows["source"]["base"]["fid"]["mean"] > 0
    assert "(kit), so the judge rows are left out" in " ".join((out / "results.md").read_text().split())
    assert (out / "grid.gif").exists()  # rendered on KIT's skeleton


def test_the_twin_switch_enters_a_fine_tuning_stage_only_when_on(tmp_path, monkeypatch):
    """Stages fine-tuned before ``--twin`` existed keep their hash; turning it on re-runs them."""
    from nomocap.experiments import common

    configs = []
    monkeypatch.setattr(common, "run_stage", lambda folder, config, *args, **kw: configs.append(config) or folder)
    cfg = ExperimentConfig(preset="tiny", method="draft").finetune_config(0)
    for twin in (False, True):
        common.finetune_stage(tmp_path / "draft_s0", tmp_path / "base", tmp_path / "reward", cfg, [], [], [], True,
                              Console(quiet=True), twin=twin)
    assert "twin" not in configs[0] and configs[1]["twin"] is True
    assert {k: v for k, v in configs[1].items() if k != "twin"} == configs[0]
