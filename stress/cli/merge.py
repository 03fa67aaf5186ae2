"""``auth-stress merge``: join the histories of a run's shards into one, for ``analyze``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from stress.cli.output import LogLevel, fail, prepare_outputs, start_logging, stderr
from stress.errors import HistoryError
from stress.merge import merge_histories
from stress.types import ExitCode

__all__ = ["merge_command"]


def merge_command(
    histories: Annotated[
        list[Path], typer.Argument(metavar="HISTORY...", help="Every shard's history, once each.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="MERGED", help="The merged history to write.")
    ],
    log_level: LogLevel = "warning",
) -> None:
    """Merge the histories of a sharded run (`run --shard I/N`) into one history.

    Judge the result with `auth-stress analyze MERGED`. Exit 2 when the histories are not the
    shards of one run, each exactly once.
    """
    start_logging(log_level)
    prepare_outputs({"--output": output})
    if output.resolve() in {path.resolve() for path in histories}:
        raise fail(ExitCode.USAGE, f"--output {output}: is one of the histories to merge")
    try:
        summary = merge_histories(histories, output)
    except HistoryError as exc:
        raise fail(ExitCode.USAGE, str(exc)) from None
    line = (
        f"merged {summary.shards} shards of run {summary.run_id} ({summary.ops} records, "
        f"{summary.end.end}) into {output}; judge it with: auth-stress analyze {output}"
    )
    stderr.print(escape(line), highlight=False, soft_wrap=True)
