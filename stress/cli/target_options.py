"""The options that say how to reach the target, shared by the commands that send requests
besides ``run`` (``shrink``, ``replay``), with their checks."""

from __future__ import annotations

from typing import Annotated, cast

import typer

from stress.cli.output import fail
from stress.http_tls import ca_file_problem
from stress.types import ENGINES, ExitCode
from stress.wire import HTTP2Mode

__all__ = [
    "CaFile",
    "EngineOption",
    "Http2Option",
    "Insecure",
    "Targets",
    "checked_engine",
    "checked_http2",
]

_HTTP2 = ("auto", "never", "always")

Targets = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        metavar="URL",
        help="Base URL; repeat to spread each burst over several replicas.",
    ),
]
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine", metavar="ENGINE", help=f"Override every sync engine: {', '.join(ENGINES)}."
    ),
]


def _checked_ca_file(value: str | None) -> str | None:
    """``value`` if its CAs load, else exit 2 saying why (before anything is sent)."""
    problem = ca_file_problem(value) if value is not None else None
    if problem is not None:
        raise fail(ExitCode.USAGE, f"--ca-file {value}: {problem}")
    return value


CaFile = Annotated[
    str | None,
    typer.Option(
        "--ca-file",
        metavar="FILE",
        help="CA bundle (PEM, or a folder of hashed certificates) for https targets.",
        callback=_checked_ca_file,
    ),
]
Insecure = Annotated[
    bool, typer.Option("--insecure", help="Do not verify TLS certificates (test servers only).")
]
Http2Option = Annotated[str, typer.Option("--http2", metavar="MODE", help=f"{', '.join(_HTTP2)}.")]


def checked_engine(engine: str | None) -> str | None:
    """``engine`` if it names one, else exit 2 listing the engines."""
    if engine is not None and engine not in ENGINES:
        raise fail(ExitCode.USAGE, f"--engine {engine!r}: expected {', '.join(ENGINES)}")
    return engine


def checked_http2(http2: str) -> HTTP2Mode:
    """``http2`` if it names a mode, else exit 2 listing the modes."""
    if http2 not in _HTTP2:
        raise fail(ExitCode.USAGE, f"--http2 {http2!r}: expected {', '.join(_HTTP2)}")
    return cast(HTTP2Mode, http2)
