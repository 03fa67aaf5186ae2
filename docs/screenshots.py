"""Render the README's report screenshots from the example history shipped in docs/examples.

    .venv/bin/python docs/screenshots.py

Judges docs/examples/naive-multi-tab.jsonl offline (``auth-stress analyze HISTORY --html``),
then photographs the report in headless chromium at 1400 and 800 px wide, from the top of the
page to the end of the first finding: docs/report-screenshot.png and
docs/report-screenshot-800.png. Needs the test extra (Playwright) and a chromium binary
(``--chromium PATH``, default the first on PATH); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parent
HISTORY = DOCS / "examples" / "naive-multi-tab.jsonl"
SHOTS = {1400: DOCS / "report-screenshot.png", 800: DOCS / "report-screenshot-800.png"}
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def render(report: Path) -> None:
    """The HTML report of the example history; the history's verdict is a failure (exit 1)."""
    done = subprocess.run(
        [sys.executable, "-m", "stress", "analyze", str(HISTORY), "--html", str(report)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 1 or not report.exists():
        sys.exit(f"analyze exited {done.returncode}: {done.stderr.strip()[-500:]}")


def photograph(report: Path, chromium: str) -> None:
    """One PNG per width, clipped at the end of the first finding."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            for width, shot in SHOTS.items():
                page = browser.new_page(viewport={"width": width, "height": 1000})
                page.goto(report.as_uri())
                bottom = page.evaluate(
                    "() => document.querySelector('#finding-1').getBoundingClientRect().bottom"
                    " + window.scrollY + 16"
                )
                page.screenshot(
                    path=str(shot),
                    full_page=True,
                    clip={"x": 0, "y": 0, "width": width, "height": bottom},
                )
                page.close()
                print(f"wrote {shot.relative_to(DOCS.parent)}")
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.html"
        render(report)
        photograph(report, args.chromium)


if __name__ == "__main__":
    main()
