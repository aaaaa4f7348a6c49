"""The ``nomocap`` command line: one sub-command per step of the pipeline, grouped by module."""

from importlib import import_module

from nomocap.cli.common import app, parse_settings

# Importing a module registers its commands; ``--help`` lists them in this order, the pipeline's.
for _module in ("data", "train", "generate", "evaluate", "experiments"):
    import_module(f"nomocap.cli.{_module}")

__all__ = ["app", "main", "parse_settings"]


def main() -> None:  # pragma: no cover
    app()
