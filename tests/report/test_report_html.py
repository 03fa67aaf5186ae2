"""The --html report: well-formed, self-contained, with the witness drawn and no tokens."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import msgspec
import pytest
from report.conftest import A, ReportFactory, burst_history, passing_results

from stress.checkers import CHECKERS
from stress.checkers.base import Blame, CheckResult, Finding
from stress.history import Operation
from stress.pipeline import analyze_history
from stress.report import RunReport
from stress.report.bursts import burst_summaries, fallbacks
from stress.report.charts import TimedPoint, log_bins, over_time_svg
from stress.report.family import TokenIndex, family_of, family_svg
from stress.report.html import render_html, write_html
from stress.report.stats import BurstInfo
from stress.report.svg import CHAR_W, fit, text
from stress.run_record import Limits

CHECKER_IDS = ("fork", "sibling-invalidation", "token-uniqueness", "server-error")
REPLICA_A, REPLICA_B = "http://127.0.0.1:8000", "http://127.0.0.1:8001"

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


def _badges(page: str) -> dict[str, str]:
    """Checker -> the verdict its badge shows, from the checkers table."""
    return dict(
        re.findall(r"<tr><td>([a-z-]+)</td><td><span class=\"v [^\"]+\"[^>]*>([a-z ]+)<", page)
    )


def test_log_bins_are_log_spaced_and_count_every_value() -> None:
    bins = log_bins([1.0, 2.0, 9.0, 10.0, 11.0, 100.0, 1000.0], 3)
    assert bins.edges == pytest.approx((1.0, 10.0, 100.0, 1000.0))
    assert bins.counts == (3, 2, 2)  # [1,10) [10,100) [100,1000]
    assert sum(log_bins([0.5 + i for i in range(10_000)]).counts) == 10_000
    assert log_bins([3.0, 3.0]).counts == (2,)
    assert log_bins([]).counts == (0,)


def test_checkers_are_colour_coded(failing_report: RunReport) -> None:
    page = render_html(failing_report)
    badges = _badges(page)
    assert badges["fork"] == "fail"
    assert badges["sibling-invalidation"] == "pass"
    assert badges["token-uniqueness"] == "unknown"
    assert 'class="v v-fail"' in page
    assert 'class="v v-pass"' in page


def test_inconclusive_run_never_shows_a_pass(report_factory: ReportFactory) -> None:
    unreachable = report_factory(
        passing_results(), operations=[], inconclusive_reason="target unreachable"
    )
    badges = _badges(render_html(unreachable))
    assert set(badges.values()) == {"not run"}
    assert len(badges) == len(CHECKER_IDS)
    assert "v-not-run" in render_html(unreachable)
    interrupted = report_factory(passing_results(), inconclusive_reason="interrupted")
    assert set(_badges(render_html(interrupted)).values()) == {"partial"}
    assert interrupted.checker_status(interrupted.results[0]) == "partial"


def _on_two_replicas(operations: list[Operation]) -> list[Operation]:
    """The burst history with p0 and p1 on replica a, the others on replica b."""
    moved = []
    for op in operations:
        target = REPLICA_A if op.process < 2 else REPLICA_B
        invoke = msgspec.structs.replace(op.invoke, target=target)
        moved.append(Operation(invoke=invoke, done=op.done))
    return moved


def test_every_op_names_its_replica(
    failing_report: RunReport, report_factory: ReportFactory
) -> None:
    results = failing_report.results
    report = report_factory(
        results, operations=_on_two_replicas(burst_history()), targets=[REPLICA_A, REPLICA_B]
    )
    assert report.replicas == {REPLICA_A: "r1", REPLICA_B: "r2"}
    page = render_html(report)
    titles = re.findall(r'<g class="op"[^>]*><title>([^<]*)</title>', page)
    assert len(titles) == 3
    assert all(f"to {REPLICA_A}" in t or f"to {REPLICA_B}" in t for t in titles)
    assert "ok @r2" in page  # p2's label in the timeline
    assert f"r1 = {REPLICA_A}" in page  # the key in the run's summary
    # With one target there is nothing to tell apart, but the tooltip still names it.
    single = render_html(failing_report)
    assert "@r1" not in single
    assert "to the target" in single  # these ops did not record theirs


def test_family_shows_every_successor_of_the_burst(failing_report: RunReport) -> None:
    (finding,) = failing_report.findings
    index = TokenIndex.of(failing_report.operations)
    family = family_of(index, failing_report.by_index, finding)
    assert family is not None
    assert family.root == A
    assert family.distinct == 2
    assert [s.op.index for s in family.successors] == [2, 3]
    assert [s.key for s in family.successors] == [False, True]
    assert [op.index for op in family.rejected] == [4]  # p3's rejected refresh
    svg = family_svg(family, failing_report.replica_of)
    assert "2 successors" in svg
    assert "1 not rotated" in svg
    assert svg.count('class="edge viol"') == 1
    assert 'class="family"' in render_html(failing_report)


def test_bursts_summary_per_engine_and_no_misleading_zero(
    report_factory: ReportFactory,
) -> None:
    bursts = [
        BurstInfo(burst=b, engine="last-byte", size=8, release_spread_ns=s, arrival_spread_ns=a)
        for b, s, a in (
            (3, 4_000, 90_000), (1, 1_000, 10_000), (2, 2_000, None), (0, 3_000, 50_000)
        )
    ] + [
        BurstInfo(burst=4, engine="single-packet", size=8, release_spread_ns=0,
                  arrival_spread_ns=20_000),
    ]  # fmt: skip
    (last_byte, single) = burst_summaries(bursts)
    assert last_byte.engine == "last-byte"
    assert last_byte.bursts == 4
    assert last_byte.release is not None
    assert (last_byte.release.min, last_byte.release.p50, last_byte.release.max) == (
        1_000, 2_000, 4_000
    )  # fmt: skip
    assert last_byte.arrival is not None
    assert last_byte.arrival.count == 3
    assert single.release is None  # zero by construction, not a measurement
    page = render_html(report_factory(passing_results(), bursts=bursts))
    assert ">0ns<" not in page
    assert "\u2014 (one write)" in page
    assert "zero by construction" in page
    summary_at, table_at = (
        page.index("release spread min / p50"),
        page.index("<details><summary>every burst"),
    )
    assert summary_at < table_at
    ids = re.findall(r"<tr><td>(\d)</td><td>(?:last-byte|single-packet)</td>", page)
    assert ids == ["0", "1", "2", "3", "4"]


def test_threshold_finding_draws_the_distribution_against_its_limit(
    report_factory: ReportFactory,
) -> None:
    ops = burst_history()
    slow = next(op for op in ops if op.index == 2)
    finding = Finding(
        checker="threshold",
        severity="error",
        message="refresh p99 latency 5.0 ms exceeds 4 ms over 2 ok ops",
        blame=(Blame(slow.index, "took 5.0 ms: the p99 of 2 ok ops", key=True),),
    )
    results = [CheckResult(checker="threshold", verdict="fail", findings=(finding,))]
    page = render_html(report_factory(results, thresholds={"refresh": Limits(p99_ms=4.0)}))
    drawn = page[page.index('id="finding-1"') :]
    assert 'class="chart hist"' in drawn.split("</div>")[0]
    assert "p99 limit 4ms" in drawn
    assert "1 of 2 ok refresh ops took longer than the p99 limit of 4ms" in drawn
    assert 'class="timeline"' not in drawn.split("</div>")[0]


def test_drawings_scale_with_the_page(failing_report: RunReport) -> None:
    page = render_html(failing_report)
    svgs = re.findall(r"<svg [^>]*>", page)
    assert len(svgs) >= 4  # family, timeline, a histogram and a chart over time per kind
    for tag in svgs:
        assert "viewBox=" in tag
        assert 'width="' not in tag  # the page's CSS sets width:100%


def test_labels_are_cut_to_their_room_with_the_whole_text_as_tooltip() -> None:
    assert fit("refresh(a1b2c3d4) -> e5f6a7b8 ok", 10 * CHAR_W) == "refresh(a\u2026"
    assert fit("short", 100) == "short"
    drawn = text(0, 0, "a" * 50, 10 * CHAR_W)
    assert f"<title>{'a' * 50}</title>" in drawn


def test_the_shipped_example_history_renders_the_screenshot_report() -> None:
    """docs/screenshots.py photographs this history's report: it must still judge and draw."""
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "naive-multi-tab.jsonl"
    report = analyze_history(example)
    assert report.verdict == "fail"
    assert report.replicas == {"http://127.0.0.1:8000": "r1", "http://127.0.0.1:8001": "r2"}
    page = render_html(report)
    assert 'id="finding-1"' in page
    assert re.search(r">\d+ successors<", page)


def test_fallbacks_say_which_engine_was_used_and_why() -> None:
    bursts = [
        BurstInfo(burst=b, engine="last-byte", size=4, release_spread_ns=1_000,
                  arrival_spread_ns=None)
        for b in (0, 1)
    ]  # fmt: skip
    lines = fallbacks(bursts, {0: "auto", 1: "single-packet"})
    assert len(lines) == 2
    assert lines[0].startswith("1 burst: auto used last-byte: the target does not speak HTTP/2")
    assert lines[1].startswith("1 burst: single-packet used last-byte: single-packet needs HTTP/2")
    assert fallbacks(bursts, {0: "last-byte", 1: "last-byte"}) == []


def test_latency_over_time_thins_dots_but_not_percentiles() -> None:
    points = [TimedPoint(i / 1000, 1.0 + i % 7, True) for i in range(6000)]
    svg = over_time_svg(points, 6.0, "refresh", {"p99": 50.0})
    assert svg.count("<circle") == 1500
    assert "every 4th shown" in svg
    assert 'class="band p50"' in svg
    assert 'class="band p99"' in svg
    assert "p99 limit 50ms" in svg
