"""``auth-stress check``: validate scenario files without running them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from stress.cli.output import stderr, stdout
from stress.errors import ScenarioError
from stress.scenario import load_scenario
from stress.types import ExitCode

__all__ = ["check_command"]


def check_command(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario files to validate.")],
) -> None:
    """Validate scenario files without running them; exit 2 if any is invalid."""
    bad = 0
    for path in scenarios:
        try:
            loaded = load_scenario(path)
        except ScenarioError as exc:
            bad += 1
            stderr.print(f"[red]invalid[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            continue
        stdout.print(f"[green]ok[/] {escape(f'{path}: {loaded.name}')}", highlight=False)
        for name in loaded.secret_env_vars():
            if name not in os.environ:
                stderr.print(
                    f"[yellow]warning[/] {escape(str(path))}: environment variable {name} is not "
                    "set here; `run` needs it",
                    highlight=False,
                    soft_wrap=True,
                )
    if bad:
        raise typer.Exit(ExitCode.USAGE)
