"""Witness timelines and curl reproducer lines."""

from __future__ import annotations

import os
import subprocess

from stress.checkers.base import Blame, Finding
from stress.history import Operation
from stress.report.timeline import (
    curl_command,
    explain_witness,
    format_duration,
    render_timeline,
)
from stress.run_record import TlsRecord


def _by_index(operations: list[Operation]) -> dict[int, Operation]:
    return {op.index: op for op in operations}


def _blamed(*indices: int) -> Finding:
    """A finding blaming ``indices`` in that order, the last one the key."""
    blame = tuple(Blame(i, f"why {i}", key=i == indices[-1]) for i in indices)
    return Finding(checker="fork", severity="error", message="fork", blame=blame)


def test_fork_timeline_shows_the_checkers_blame(
    operations: list[Operation], fork: Finding, fps: dict[str, str]
) -> None:
    a, b, c = fps["A"][:8], fps["B"][:8], fps["C"][:8]
    lines = render_timeline(explain_witness(_by_index(operations), fork))
    assert lines == [
        f"op 0 p0 login()            +0.000ms -> ok {a} (8.0ms)   # issued {a}",
        f"op 2 p1 refresh({a}) +10.000ms -> ok {b} (4.0ms)   # {a} -> {b}, successor 1 of 2",
        f"op 3 p2 refresh({a}) +10.300ms -> ok {c} (4.7ms)   # violation: {a} -> {c}, "
        "successor 2 of 2",
    ]


def test_times_are_relative_to_first_witness_op(
    operations: list[Operation], fps: dict[str, str]
) -> None:
    steps = explain_witness(_by_index(operations), _blamed(2, 3, 4))
    assert [s.send_offset_ns for s in steps] == [0, 300_000, 500_000]
    assert [s.recv_offset_ns for s in steps] == [4_000_000, 5_000_000, 6_000_000]
    lines = render_timeline(steps)
    assert lines[0].startswith(f"op 2 p1 refresh({fps['A'][:8]}) +0.000ms -> ok")
    assert lines[2].startswith(
        f"op 4 p3 refresh({fps['A'][:8]}) +0.500ms -> fail 400 [invalid_grant]"
    )
    assert lines[2].endswith("# violation: why 4")


def test_unknown_witness_indices_are_skipped(operations: list[Operation]) -> None:
    assert explain_witness(_by_index(operations), _blamed(999)) == []
    assert render_timeline([]) == []


def test_the_key_step_is_the_one_the_checker_blames(operations: list[Operation]) -> None:
    steps = explain_witness(_by_index(operations), _blamed(0, 3, 2))
    assert [(s.op.index, s.why, s.key) for s in steps] == [
        (0, "why 0", False),
        (3, "why 3", False),
        (2, "why 2", True),
    ]


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


def test_the_runs_tls_goes_into_the_curl_line_as_shell_words(operations: list[Operation]) -> None:
    """A CA folder is ``--capath``; ``--insecure`` wins over a CA; a certificate's variable
    is read as a file by the shell, so its text never lands in the line."""
    record = TlsRecord(
        ca_file="certs dir", ca_folder=True, client_cert_env="CERT", client_cert_key_env="KEY"
    )
    line = curl_command(operations[1], _describe, record.curl_options())
    assert line.startswith(
        "curl -sS --capath 'certs dir' --cert <(printenv CERT) --key <(printenv KEY) -X POST "
    )
    assert TlsRecord(ca_file="ca.pem", insecure=True).curl_options() == ["--insecure"]
    assert TlsRecord().curl_options() == []
