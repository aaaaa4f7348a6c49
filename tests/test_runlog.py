"""The run log: log.jsonl rows, and the same numbers for TensorBoard read back by TensorBoard's own reader."""

import json
import sys

import pytest
from typer.testing import CliRunner

from nomocap.cli import app
from nomocap.runlog import RunLog

runner = CliRunner()


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar TensorBoard reads from ``folder``: tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_rows_go_to_jsonl_and_their_finite_numbers_to_tensorboard(tmp_path):
    rows = [{"iteration": 1, "reward_mean": 0.25, "skipped": 0, "note": "text", "flag": True},
            {"iteration": 2, "reward_mean": 0.5, "skipped": 1, "val_reward": float("nan")}]
    with RunLog(tmp_path, "iteration", tensorboard=True) as log:
        for row in rows:
            log.write(row)
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["reward_mean"] for line in lines] == [0.25, 0.5]
    read = scalars(tmp_path / "tensorboard")
    assert read == {"reward_mean": [(1, 0.25), (2, 0.5)], "skipped": [(1, 0.0), (2, 1.0)]}


def test_a_disabled_log_writes_nothing(tmp_path):
    with RunLog(tmp_path, "iteration", tensorboard=True, enabled=False) as log:
        log.write({"iteration": 1, "reward_mean": 0.25})
    assert list(tmp_path.iterdir()) == []


def test_finetune_with_tensorboard_logs_what_log_jsonl_holds(tiny_runs, tmp_path):
    data, base, reward_run = tiny_runs
    out = tmp_path / "ft"
    result = runner.invoke(app, ["finetune", "--method", "draft", "--model", str(base), "--reward", str(reward_run),
                                 "--data", str(data), "--preset", "tiny", "--out", str(out), "--set", "iterations=2",
                                 "--tensorboard"])
    assert result.exit_code == 0, result.output
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    read = scalars(out / "tensorboard")
    assert [step for step, _ in read["reward_mean"]] == [row["iteration"] for row in logged] == [1, 2]
    assert [value for _, value in read["reward_mean"]] == pytest.approx([row["reward_mean"] for row in logged])


def test_pretrain_with_tensorboard_logs_the_loss(tiny_runs, tmp_path):
    data = tiny_runs[0]
    out = tmp_path / "base"
    result = runner.invoke(app, ["pretrain", "--data", str(data), "--preset", "tiny", "--steps", "20",
                                 "--text-encoder", "hash", "--out", str(out), "--tensorboard"])
    assert result.exit_code == 0, result.output
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    read = scalars(out / "tensorboard")
    assert [step for step, _ in read["loss"]] == [row["step"] for row in logged] == [10, 20]
    assert [value for _, value in read["loss"]] == pytest.approx([row["loss"] for row in logged])


@pytest.mark.parametrize("command", ["pretrain", "train-retrieval", "finetune"])
def test_tensorboard_missing_is_a_clear_error_before_any_work(tiny_runs, tmp_path, monkeypatch, command):
    data, base, reward_run = tiny_runs
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    out = tmp_path / "out"
    args = {"pretrain": ["--data", str(data)], "train-retrieval": ["--data", str(data)],
            "finetune": ["--model", str(base), "--reward", str(reward_run), "--data", str(data), "--method", "draft"]}
    result = runner.invoke(app, [command, *args[command], "--preset", "tiny", "--out", str(out), "--tensorboard"])
    assert result.exit_code != 0 and "pip install tensorboard" in " ".join(result.output.split())
    assert not out.exists()
