"""``python -m nomocap`` = the ``nomocap`` command (what ``torchrun`` and ``accelerate launch -m`` start)."""

from nomocap.cli import app

app()
