"""What every sub-command shares: the typer apps, the consoles, errors and ``--set`` parsing."""

from __future__ import annotations

import json

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Post-train text-to-motion diffusion models with RL from text prompts only.")
data_app = typer.Typer(no_args_is_help=True, help="Create, validate and inspect motion corpora.")
app.add_typer(data_app, name="data")
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


TENSORBOARD_HELP = "also log every number of log.jsonl for TensorBoard (tensorboard --logdir OUT/tensorboard)"
DEVICE_HELP = "auto (a GPU when there is one), cpu, cuda or cuda:N"
ADAPTER_SCALE_HELP = ("the adapter's weight change times this: 0 is the base, 1 the fine-tuned model, in between a "
                      "trade of the gain against what the base knew")


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is there, else ``cpu``; a device that is not there is an error."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device {name!r}: expected {DEVICE_HELP}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA GPU is visible here (torch {torch.__version__}); use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: only cpu and cuda are supported")
    return str(device)


# Options several commands share, declared once so that their defaults and help read the same everywhere
# (typer copies an option before it fills it in, so one instance can stand in many signatures).
OUT_RUN = typer.Option(..., "--out", "-o", help="run folder to write")
PRESET = typer.Option("small", help="tiny, small or paper")
PRESET_STEPS = typer.Option(None, help="override the preset's number of steps")
TEXT_ENCODER = typer.Option(None, help="minilm (default), hash, or a sentence-transformers folder")
RESUME = typer.Option(False, help="continue the run in --out")
DEVICE = typer.Option("auto", help=DEVICE_HELP)
TENSORBOARD = typer.Option(False, help=TENSORBOARD_HELP)
SEED = typer.Option(0, help="random seed")
ADAPTER_SCALE = typer.Option(1.0, help=ADAPTER_SCALE_HELP)
SAMPLER = typer.Option("dpm++", help="sampler")
SAMPLING_STEPS = typer.Option(10, help="denoising steps")
GUIDANCE = typer.Option(2.5, help="classifier-free guidance scale")

CONTRASTIVE = typer.Option(False, help="reward = cos(prompt) minus the mean cos with the batch's others")
TWIN = typer.Option(False, help="reward minus the cos with the prompt's swapped twin (left/right, clockwise/"
                   "counterclockwise, forward/backward): doing the other side costs what doing the asked side earns")

METHOD_HELP = "ddpo (RL, the paper's method); comparisons: raft (reward-ranked), draft (reward gradient)"
METHOD = typer.Option("ddpo", help=METHOD_HELP)
SET_HELP = ("override a preset setting of the method ([finetune] for ddpo, [raft] for raft, [draft] for draft), "
            "KEY=VALUE (repeatable), e.g. --set antithetic=true")
SETTINGS = typer.Option(None, "--set", help=SET_HELP)


def parse_settings(items: list[str] | None) -> dict:
    """``--set KEY=VALUE`` pairs; values are read as JSON (numbers, true/false), anything else as text."""
    settings = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. --set antithetic=true")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value
    return settings


