"""The --html report: well-formed, self-contained, with the witness drawn and no tokens."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from stress.checkers import CHECKERS
from stress.report import RunReport
from stress.report.html import render_html, write_html

_VOID = {"meta", "br", "hr", "img", "input", "link", "col", "source", "wbr"}
_SVG_SELF_CLOSING = {"rect", "path", "line", "stop", "circle"}


class _Collector(HTMLParser):
    """Checks that tags nest and records elements with their attributes and text."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Collector:
    parser = _Collector()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    assert parser.stack == []
    return parser


def test_failing_report_draws_the_witness(
    failing_report: RunReport, tmp_path: Path, tokens: dict[str, str], fps: dict[str, str]
) -> None:
    path = tmp_path / "report.html"
    write_html(failing_report, path)
    page = path.read_text()
    parsed = _parse(page)
    text = "".join(parsed.text)
    (finding,) = failing_report.findings
    assert finding.message in text
    assert "FAIL" in text
    svgs = [attrs for tag, attrs in parsed.elements if tag == "svg"]
    assert any(a.get("class") == "timeline" for a in svgs)
    bars = [a for tag, a in parsed.elements if tag == "rect" and "bar" in a.get("class", "")]
    assert len(bars) == 3  # login, p1 refresh, p2 refresh
    assert sum("violation" in a["class"] for a in bars) == 1
    arrows = [a for tag, a in parsed.elements if tag == "path" and "lineage" in a.get("class", "")]
    # login -> p1 and login -> p2; the second is the violating edge.
    assert [a["class"] for a in arrows] == ["lineage", "lineage violation"]
    assert "has 2 successors" in text
    assert "violation: " in text  # the key step's blame, in the timeline
    assert CHECKERS["fork"].meaning in text
    assert "fork (invariant): 1 finding" in text
    assert fps["C"][:8] in text
    assert not any(token in page for token in tokens.values())


def test_page_is_self_contained(failing_report: RunReport) -> None:
    page = render_html(failing_report)
    parsed = _parse(page)
    for tag, attrs in parsed.elements:
        assert "src" not in attrs, tag
        assert "href" not in attrs, tag
    urls = re.findall(r"url\(([^)]*)\)", page)
    assert urls  # the arrow markers
    assert all(u.startswith("#") for u in urls)
    assert "@import" not in page


def test_passing_and_inconclusive_pages(
    passing_report: RunReport, inconclusive_report: RunReport
) -> None:
    passing = "".join(_parse(render_html(passing_report)).text)
    assert "PASS" in passing
    assert "None." in passing
    assert "refresh (2 ok ops)" in passing  # latency histogram per kind
    inconclusive = "".join(_parse(render_html(inconclusive_report)).text)
    assert "UNKNOWN" in inconclusive
    assert "(interrupted)" in inconclusive
