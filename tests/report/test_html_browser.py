"""The HTML report in a real browser: a real run against naive, rendered by headless chromium.

The unit tests check the markup; this checks what a person opening the CI artifact gets: the
page renders offline, the timeline is drawn (lanes, request bars, the violating edge in red),
and the findings are there. A screenshot is saved under ``test-artifacts/`` for CI to upload.
Skipped only when no chromium binary exists (``.ci/run`` installs Debian's).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.servers import ServerFactory

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)


def _chromium(user_data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={user_data}", *args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def naive_report(server_factory: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An HTML report of the multi-tab burst against the naive strategy (it must fail)."""
    out = tmp_path_factory.mktemp("html-report")
    html = out / "report.html"
    result = subprocess.run(
        [
            sys.executable, "-m", "stress", "run", str(ROOT / "scenarios" / "multi-tab-burst.toml"),
            "--target", server_factory("naive", grace=5.0).url, "--html", str(html),
            "--history", str(out / "history.jsonl"), "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=out,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    return html


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")
def test_report_renders_timeline_and_findings(naive_report: Path, tmp_path: Path) -> None:
    dumped = _chromium(tmp_path / "profile", "--dump-dom", naive_report.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert 'id="verdict"' in dom
    assert ">FAIL<" in dom
    # The timeline: lanes, request bars, the violating request and the violating lineage edge.
    assert '<svg class="timeline"' in dom
    assert dom.count('class="lane"') >= 2
    assert 'class="bar"' in dom
    assert 'class="bar violation"' in dom
    assert 'class="lineage violation"' in dom
    assert 'class="origin"' in dom  # where the forked token came from
    # The findings, explained.
    assert 'id="checker-fork"' in dom or 'id="checker-sibling-invalidation"' in dom
    assert "How to read a timeline" in dom
    assert re.search(r"\b\d+ findings?\b", dom)
    assert 'class="meaning"' in dom  # what the checker's findings mean


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")
def test_report_screenshot_is_saved_as_artifact(naive_report: Path, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "html-report.png"
    shot.unlink(missing_ok=True)
    taken = _chromium(
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1400,2000",
        "--hide-scrollbars",
        naive_report.as_uri(),
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000  # a blank page compresses to a few KB
