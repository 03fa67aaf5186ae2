"""pytest plugin: scenario files as test items, so CI runs them with the tests it already has.

``pytest scenarios/ --auth-stress-target URL`` collects every ``*.toml`` file that is a scenario
(a TOML document with a ``[target]`` table and ``[[steps]]``) as one test item, runs it through
:func:`stress.pipeline.run_scenario`, and fails the item with the findings and their witness
timelines. An inconclusive run (target unreachable, interrupted, too many indeterminate ops)
fails too, with its reason: a pass that proves nothing must not look green. pytest's own
``--junitxml`` then carries the result into CI.

Options: ``--auth-stress-target URL`` (repeatable: several replicas share each burst; without it
the plugin collects nothing, so installing it changes no other test run),
``--auth-stress-engine`` (override every step's sync engine) and ``--auth-stress-json-dir DIR``
(a JSON and an HTML report and the history per scenario, for CI artifacts).

Other TOML files (``pyproject.toml``, configs) are left alone. A file that looks like a scenario
but does not validate is collected and fails with the validation error, because a typo must not
silently drop a scenario from CI.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stress.checkers.judging import counted
from stress.errors import ScenarioError
from stress.pipeline import RunOptions, run_scenario
from stress.report import RunReport, checker_text, rest_hint, write_html, write_json
from stress.scenario import Scenario, load_scenario
from stress.types import ENGINES
from stress.wire import run as run_async

__all__ = [
    "ScenarioFailed",
    "ScenarioFile",
    "ScenarioItem",
    "failure_text",
    "pytest_addoption",
    "pytest_collect_file",
]

# Findings printed in full per checker (a naive server forks hundreds of times in a storm);
# the JSON report (--auth-stress-json-dir) has them all.
MAX_PER_CHECKER = 3
_SCENARIO_HINT = re.compile(r"(?m)^\s*\[\[\s*steps\s*\]\]")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``--auth-stress-*`` options."""
    group = parser.getgroup("auth-stress", "auth-stress scenario files as test items")
    group.addoption(
        "--auth-stress-target",
        action="append",
        default=[],
        metavar="URL",
        help="Base URL of the target; repeat for several replicas. Without it no scenario "
        "files are collected.",
    )
    group.addoption(
        "--auth-stress-engine",
        default=None,
        choices=ENGINES,
        help="Override every step's sync engine.",
    )
    group.addoption(
        "--auth-stress-json-dir",
        default=None,
        metavar="DIR",
        help="Write <scenario>.json, <scenario>.html and <scenario>.history.jsonl here.",
    )


def _looks_like_scenario(path: Path) -> bool:
    """A TOML document with a ``[target]`` table and a ``[[steps]]`` array of tables.

    A file that is not valid TOML counts only when its text has a ``[[steps]]`` header, so that
    a scenario with a syntax error fails loudly instead of vanishing from the run.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return bool(_SCENARIO_HINT.search(text))
    steps = data.get("steps")
    return isinstance(data.get("target"), dict) and isinstance(steps, list) and bool(steps)


_SKIPPED = pytest.StashKey[list[Path]]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    """Collect scenario files, and only when a target was given (else say so at the end)."""
    if file_path.suffix != ".toml" or not _looks_like_scenario(file_path):
        return None
    config = parent.config
    if not config.getoption("auth_stress_target"):
        config.stash.setdefault(_SKIPPED, []).append(file_path)
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Name the scenario files that were not run for want of a target."""
    skipped = config.stash.get(_SKIPPED, [])
    if skipped:
        terminalreporter.write_line(
            f"auth-stress: {len(skipped)} scenario file(s) not collected: pass "
            "--auth-stress-target URL to run them against a target"
        )


class ScenarioFile(pytest.File):
    """One scenario file: holds exactly one item, named after the scenario."""

    def collect(self) -> Iterator[ScenarioItem]:
        name = self.path.stem
        try:
            declared = tomllib.loads(self.path.read_text(encoding="utf-8")).get("name")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            declared = None
        if isinstance(declared, str) and declared:
            name = declared
        yield ScenarioItem.from_parent(self, name=name)


class ScenarioFailed(Exception):
    """The run failed or was inconclusive; ``text`` is the failure message pytest shows."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class ScenarioItem(pytest.Item):
    """Runs one scenario against the ``--auth-stress-target`` URLs."""

    def runtest(self) -> None:
        config = self.config
        try:
            scenario = load_scenario(self.path)
        except ScenarioError as exc:
            raise ScenarioFailed(f"invalid scenario: {exc}") from None
        out_dir = _out_dir(config)
        options = RunOptions(
            scenario_path=self.path,
            targets=tuple(config.getoption("auth_stress_target")),
            engine=config.getoption("auth_stress_engine"),
            history_path=out_dir / f"{self.path.stem}.history.jsonl" if out_dir else None,
        )
        try:
            result = run_async(run_scenario, scenario, options, None)
        except ScenarioError as exc:
            raise ScenarioFailed(f"invalid scenario: {exc}") from None
        report, history = result.report, result.history_path
        self.user_properties.append(("auth-stress-verdict", report.verdict))
        self.user_properties.append(("auth-stress-history", str(history)))
        json_path: Path | None = None
        if out_dir is not None:
            json_path = out_dir / f"{self.path.stem}.json"
            html_path = out_dir / f"{self.path.stem}.html"
            write_json(report, json_path)
            write_html(report, html_path)
            self.user_properties.append(("auth-stress-json", str(json_path)))
            self.user_properties.append(("auth-stress-html", str(html_path)))
        if result.interrupted:
            # The run's own watch took the signal, so pytest did not see it: stop the session
            # after this item, as pytest stops at Ctrl-C, and keep this item's reports.
            self.session.shouldstop = "interrupted (SIGINT, SIGTERM or SIGHUP)"
        if result.crashed:
            text = failure_text(scenario, report, history, json_path)
            raise ScenarioFailed(f"auth-stress crashed (internal error, see the log)\n{text}")
        if report.verdict != "pass":
            raise ScenarioFailed(failure_text(scenario, report, history, json_path))

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        """The findings as text instead of a traceback into the plugin."""
        if isinstance(excinfo.value, ScenarioFailed):
            return excinfo.value.text
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"auth-stress scenario: {self.name}"


def _out_dir(config: pytest.Config) -> Path | None:
    value = config.getoption("auth_stress_json_dir")
    if not value:
        return None
    path = Path(value)
    if not path.is_absolute():
        path = config.invocation_params.dir / path
    path.mkdir(parents=True, exist_ok=True)
    return path


def failure_text(
    scenario: Scenario, report: RunReport, history: Path, json_path: Path | None = None
) -> str:
    """Verdict line, the findings as the console prints them, and how to reproduce.

    ``json_path`` is the JSON report written for this scenario, where every finding is.
    """
    counts = f"{counted(len(report.findings), 'finding')}, {counted(report.stats.total, 'op')}"
    lines = [
        f"auth-stress: {scenario.name}: {report.verdict.upper()}"
        + (f" (inconclusive: {report.inconclusive_reason})" if report.inconclusive_reason else "")
        + f", {counts}",
        f"targets: {', '.join(report.targets)}; policy {report.policy.describe()}",
    ]
    unknown = [r for r in report.results if r.verdict == "unknown"]
    for result in unknown:
        lines.append(f"checker {result.checker}: unknown: {'; '.join(result.notes) or '-'}")
    rest = rest_hint(json_path, "--auth-stress-json-dir DIR")
    for result in report.results:
        for _, block in checker_text(report, result, MAX_PER_CHECKER, rest):
            lines += ["", *block]
    lines += ["", f"history: {history}"]
    if report.reproduce:
        lines += ["reproduce with:", *(f"  {line}" for line in report.reproduce)]
    return "\n".join(lines)
