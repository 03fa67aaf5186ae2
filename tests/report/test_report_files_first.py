"""Every report file asked for is written before the console is, which may be gone, and a
console that is gone does not change the exit status."""

from __future__ import annotations

import errno
import io
import os
import sys
from pathlib import Path

import pytest
from rich.console import Console

from stress.cli import output
from stress.report import RunReport


class _HungUp(io.TextIOBase):
    """The terminal of a run stopped by SIGHUP: gone, so every write fails."""

    def write(self, text: str) -> int:
        raise OSError(errno.EIO, "Input/output error")


def test_the_files_are_written_though_the_console_is_gone(
    passing_report: RunReport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output, "stdout", Console(file=_HungUp()))
    paths = tmp_path / "r.json", tmp_path / "r.xml", tmp_path / "r.html"
    with pytest.raises(OSError, match="Input/output error"):
        output.emit(passing_report, *paths)
    assert [p.exists() and p.stat().st_size > 0 for p in paths] == [True, True, True]


def test_a_console_whose_reader_quit_goes_quiet_instead_of_exiting_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rich exits 1 on a broken pipe (``| head`` quitting early), which here would say a
    violation was found; the command's consoles go quiet and let it exit with its own status."""
    read, write = os.pipe()
    os.close(read)
    with open(write, "w") as pipe:
        monkeypatch.setattr(sys, "stdout", pipe)
        stream = output.ConsoleStream("stdout")
        console = Console(file=stream)  # type: ignore[arg-type]
        console.print("verdict: PASS")  # raised SystemExit(1) with rich's own handling
        console.print("history: runs/h.jsonl")
        assert stream.gone


def test_a_console_whose_terminal_hung_up_goes_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", _HungUp())
    stream = output.ConsoleStream("stderr")
    Console(file=stream).print("error: interrupted")  # type: ignore[arg-type]
    assert stream.gone


def test_a_console_that_fails_otherwise_still_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    class _Full(io.TextIOBase):
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sys, "stdout", _Full())
    with pytest.raises(OSError, match="No space left"):
        Console(file=output.ConsoleStream("stdout")).print("x")  # type: ignore[arg-type]
