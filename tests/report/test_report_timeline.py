"""Witness timelines and curl reproducer lines."""

from __future__ import annotations

import os
import subprocess

from stress.checkers.base import Finding
from stress.history import Operation
from stress.report.timeline import (
    curl_command,
    explain_witness,
    format_duration,
    key_operation,
    render_timeline,
)


def _fork(witness: tuple[int, ...]) -> Finding:
    return Finding(checker="fork", severity="error", message="fork", witness=witness)


def test_fork_timeline_in_real_order_with_comment(
    operations: list[Operation], fps: dict[str, str]
) -> None:
    a, b, c = fps["A"][:8], fps["B"][:8], fps["C"][:8]
    lines = render_timeline(explain_witness(operations, _fork((3, 0, 2))))
    assert lines == [
        f"p0 login()            +0.000ms -> ok {a} (8.0ms)",
        f"p1 refresh({a}) +10.000ms -> ok {b} (4.0ms)",
        f"p2 refresh({a}) +10.300ms -> ok {c} (4.7ms)   # {a} has 2 successors",
    ]


def test_times_are_relative_to_first_witness_op(
    operations: list[Operation], fps: dict[str, str]
) -> None:
    steps = explain_witness(operations, _fork((2, 3, 4)))
    assert [s.send_offset_ns for s in steps] == [0, 300_000, 500_000]
    assert [s.recv_offset_ns for s in steps] == [4_000_000, 5_000_000, 6_000_000]
    lines = render_timeline(steps)
    assert lines[0].startswith(f"p1 refresh({fps['A'][:8]}) +0.000ms -> ok")
    assert lines[2].startswith(f"p3 refresh({fps['A'][:8]}) +0.500ms -> fail 400 [invalid_grant]")


def test_unknown_witness_indices_are_skipped(operations: list[Operation]) -> None:
    assert explain_witness(operations, _fork((999,))) == []
    assert render_timeline([]) == []


def test_witness_ops_are_found_in_any_order_of_operations(operations: list[Operation]) -> None:
    """Histories pair in invoke order, which lookups rely on; other orders still work."""
    witness = _fork((3, 0, 2))
    expected = explain_witness(operations, witness)
    assert [s.op.index for s in expected] == [0, 2, 3]
    assert explain_witness(list(reversed(operations)), witness) == expected
    assert explain_witness([*operations[2:], *operations[:2]], witness) == expected


def test_key_operation_is_the_violating_request(operations: list[Operation]) -> None:
    key = key_operation(explain_witness(operations, _fork((0, 2, 3))))
    assert key is not None
    assert key.index == 3


def _describe(op: Operation) -> tuple[str, str, dict[str, str], str | None]:
    return (
        "post",
        "http://127.0.0.1:8000/token?a=1&b=2",
        {"Authorization": "Basic c2VjcmV0", "Cookie": "rt=$REFRESH_TOKEN", "X-Note": "it's"},
        'grant_type=refresh_token&refresh_token=$REFRESH_TOKEN&note="$1"',
    )


def test_curl_has_placeholders_and_no_credentials(operations: list[Operation]) -> None:
    line = curl_command(operations[1], _describe)
    assert line.startswith("curl -sS -X POST 'http://127.0.0.1:8000/token?a=1&b=2' ")
    assert "c2VjcmV0" not in line
    assert "$AUTHORIZATION" in line


def test_curl_line_expands_placeholders_in_a_real_shell(operations: list[Operation]) -> None:
    line = curl_command(operations[1], _describe)
    script = 'curl() { printf "%s\\n" "$@"; }\n' + line
    env = {**os.environ, "REFRESH_TOKEN": "TOKEN-VALUE", "AUTHORIZATION": "Basic xyz"}
    out = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, env=env, check=True, timeout=10
    ).stdout.splitlines()
    assert out == [
        "-sS",
        "-X",
        "POST",
        "http://127.0.0.1:8000/token?a=1&b=2",
        "-H",
        "Authorization: Basic xyz",
        "-H",
        "Cookie: rt=TOKEN-VALUE",
        "-H",
        "X-Note: it's",
        "--data",
        'grant_type=refresh_token&refresh_token=TOKEN-VALUE&note="$1"',
    ]


def test_durations_keep_their_unit() -> None:
    assert [format_duration(ns) for ns in (300, 12_500, 4_700_000)] == ["300ns", "12.5us", "4.7ms"]
