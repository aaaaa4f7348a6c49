"""A training run's log: one JSON row per logged step in ``log.jsonl``, and optionally the same numbers for
TensorBoard (``tensorboard --logdir RUN/tensorboard``).

``log.jsonl`` is what the project reads back (reward curves, reports, tests); TensorBoard is for watching a run
live, so it gets the rows' finite numbers and nothing the JSON does not have.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import TracebackType

TENSORBOARD_MISSING = ("--tensorboard needs the tensorboard package: pip install tensorboard (or "
                       "pip install 'nomocap[tensorboard]'); the run has not started")


def check_tensorboard() -> None:
    """Raise ``ValueError`` naming the fix when TensorBoard's writer cannot be imported."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError as err:
        raise ValueError(TENSORBOARD_MISSING) from err


class RunLog:
    """Appends rows to ``folder/log.jsonl`` (``enabled=False``: writes nothing, e.g. on a non-main rank); with
    ``tensorboard`` every finite number of a row also becomes a scalar at the row's ``step_key``."""

    def __init__(self, folder: Path, step_key: str, tensorboard: bool = False, enabled: bool = True):
        self.step_key, self._writer = step_key, None
        self._file = open(folder / "log.jsonl", "a", encoding="utf-8") if enabled else None
        if tensorboard and enabled:
            check_tensorboard()
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(folder / "tensorboard"))

    def write(self, row: dict) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        if self._writer is not None:
            step = int(row[self.step_key])
            for name, value in row.items():
                if name != self.step_key and is_number(value) and math.isfinite(value):
                    self._writer.add_scalar(name, value, step)
            self._writer.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def is_number(value: object) -> bool:
    """A real number (an int or float, not a bool): what a log row's scalar is."""
    return isinstance(value, int | float) and not isinstance(value, bool)
