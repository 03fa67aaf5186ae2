"""Report files are written whole (or not at all) and with the mode the umask allows."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from stress.report._atomic import write_atomic


@pytest.fixture
def umask() -> Iterator[None]:
    saved = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(saved)


def test_a_report_file_respects_the_umask(tmp_path: Path, umask: None) -> None:
    target = tmp_path / "report.json"
    write_atomic(target, b"{}")
    assert target.read_bytes() == b"{}"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_report_file_is_readable_by_all_under_the_usual_umask(tmp_path: Path) -> None:
    saved = os.umask(0o022)
    try:
        write_atomic(tmp_path / "report.json", b"{}")
    finally:
        os.umask(saved)
    assert stat.S_IMODE((tmp_path / "report.json").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left
