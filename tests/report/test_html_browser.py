"""The HTML report in a real browser: real runs, rendered by headless chromium.

The unit tests check the markup; this checks what a person opening the CI artifact gets: the
page renders offline, the timeline is drawn (lanes, request bars, the violating edge in red),
and the findings are there. Reports of four kinds of run (a fork on the naive server, a logout
on a strict server whose reuse detection revokes the family, a short soak, and an inconclusive
run against a closed port) are laid out at 1400 and 800 px, and nothing may stick out of the
viewport, except inside a container made to scroll (a ``<pre>``, a wide table's wrapper). The
layout is measured through Playwright driving the system chromium (no browser download), or,
without Playwright, by a measuring script injected into the page and read back from
``--dump-dom``. A screenshot is saved under ``test-artifacts/`` for CI to upload. Skipped only
when no chromium binary exists (``.ci/run`` installs Debian's).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.servers import ServerFactory
from support.targets import TargetSpec, running_target
from support.verdict_cases import CASES, scenario_text

from stress.launcher import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)


CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip
WIDTHS = (1400, 800)

# Every element whose box ends right of the viewport, unless a scrolling container holds it.
MEASURE = """() => {
  const width = window.innerWidth;
  const scrolls = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const x = getComputedStyle(p).overflowX;
      if (x === "auto" || x === "scroll") return true;
    }
    return false;
  };
  const over = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 0.5 && !scrolls(el)) {
      const name = `${el.tagName.toLowerCase()}.${el.getAttribute("class") || ""}`;
      over.push(`${name} ends at ${box.right}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width, over: over};
}"""


def _chromium(user_data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={user_data}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _report(out: Path, scenario: Path, target: str, expect: int) -> Path:
    """Run ``scenario`` against ``target`` with an HTML report; the run must exit ``expect``."""
    page = out / "report.html"
    result = subprocess.run(
        [
            sys.executable, "-m", "stress", "run", str(scenario), "--target", target,
            "--html", str(page), "--history", str(out / "history.jsonl"), "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=out,
        check=False,
    )  # fmt: skip
    assert result.returncode == expect, result.stdout[-3000:] + result.stderr[-3000:]
    return page


@pytest.fixture(scope="module")
def naive_report(server_factory: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An HTML report of the multi-tab burst against the naive strategy (it must fail)."""
    out = tmp_path_factory.mktemp("html-report")
    target = server_factory("naive", grace=5.0).url
    return _report(out, ROOT / "scenarios" / "multi-tab-burst.toml", target, 1)


@pytest.fixture(scope="module")
def logout_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A strict server whose reuse detection revokes the family: the burst logs the user out."""
    out = tmp_path_factory.mktemp("html-logout")
    case = CASES["strict-revoke-family"]
    with running_target(TargetSpec("strict-revoke-family"), out / "target.log") as url:
        scenario = out / "logout.toml"
        scenario.write_text(scenario_text("logout", url, case))
        yield _report(out, scenario, url, 1)


SOAK = ROOT / "scenarios" / "soak.toml"


@pytest.fixture(scope="module")
def soak_report(server_factory: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The soak scenario, shortened to two one-second load phases of 6 sessions."""
    out = tmp_path_factory.mktemp("html-soak")
    text = SOAK.read_text().replace("sessions = 40", "sessions = 6")
    text = text.replace("duration_seconds = 12", "duration_seconds = 1")
    scenario = out / "soak.toml"
    scenario.write_text(text)
    target = server_factory("naive", grace=5.0).url
    page = out / "report.html"
    result = subprocess.run(
        [
            sys.executable, "-m", "stress", "run", str(scenario), "--target", target,
            "--html", str(page), "--no-progress",
        ],
        capture_output=True, text=True, timeout=90, cwd=out, check=False,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    return page


@pytest.fixture(scope="module")
def inconclusive_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run against a port nothing listens on: inconclusive, nothing judged."""
    out = tmp_path_factory.mktemp("html-closed")
    return _report(
        out, ROOT / "scenarios" / "multi-tab-burst.toml", f"http://127.0.0.1:{free_port()}", 3
    )


class _Measurer:
    """Lays a page out at a viewport width and reports what sticks out of it."""

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self._playwright: Any = None
        self._browser: Any = None
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            return
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=CHROMIUM, args=list(CHROMIUM_FLAGS[1:])
        )

    def measure(self, page: Path, width: int) -> dict[str, Any]:
        if self._browser is None:
            return self._by_dump_dom(page, width)
        tab = self._browser.new_page(viewport={"width": width, "height": 1000})
        try:
            tab.goto(page.as_uri())
            result: dict[str, Any] = tab.evaluate(MEASURE)
            return result
        finally:
            tab.close()

    def _by_dump_dom(self, page: Path, width: int) -> dict[str, Any]:
        probe = page.with_name(f"{page.stem}-measured-{width}.html")
        script = (
            "<script>document.body.setAttribute('data-measured', "
            f"JSON.stringify(({MEASURE})()));</script></body>"
        )
        probe.write_text(page.read_text().replace("</body>", script))
        dumped = _chromium(
            self.profile, f"--window-size={width},1000", "--dump-dom", probe.as_uri()
        )
        assert dumped.returncode == 0, dumped.stderr[-2000:]
        found = re.search(r'data-measured="([^"]*)"', dumped.stdout)
        assert found, "the measuring script did not run"
        measured: dict[str, Any] = json.loads(html.unescape(found.group(1)))
        return measured

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._playwright.stop()


@pytest.fixture(scope="module")
def measurer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Measurer]:
    found = _Measurer(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield found
    finally:
        found.close()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", ["fork", "logout", "soak", "inconclusive"])
def test_nothing_overflows_the_viewport(
    kind: str, width: int, measurer: _Measurer, request: pytest.FixtureRequest
) -> None:
    fixture = {"fork": "naive_report", "logout": "logout_report"}.get(kind, f"{kind}_report")
    page: Path = request.getfixturevalue(fixture)
    measured = measurer.measure(page, width)
    assert measured["innerWidth"] == width
    assert measured["scrollWidth"] <= width, measured
    assert measured["over"] == [], measured["over"][:10]


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")
def test_reports_say_what_each_run_shows(
    logout_report: Path, soak_report: Path, inconclusive_report: Path
) -> None:
    logout = logout_report.read_text()
    assert 'id="checker-self-inflicted-logout"' in logout
    assert 'class="family"' in logout
    assert "not rotated" in logout  # the burst's rejected siblings
    soak = soak_report.read_text()
    assert soak.count('class="chart over-time"') >= 2  # refresh and use over run time
    assert "p99 limit" in soak  # the scenario's thresholds drawn
    closed = inconclusive_report.read_text()
    assert ">not run<" in closed
    assert 'class="v v-pass"' not in closed


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
