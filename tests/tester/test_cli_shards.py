"""A sharded run as a Kubernetes Indexed Job makes it: four shard processes told their index by
``JOB_COMPLETION_INDEX``, one merge, one analyze, and the verdict of the unsharded run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.servers import ServerFactory

from tester.conftest import SCENARIOS

pytestmark = pytest.mark.integration

SHARDS = 4


def _scenario(tmp_path: Path) -> Path:
    """The multi-tab burst, small: two sessions per shard."""
    text = (SCENARIOS / "multi-tab-burst.toml").read_text()
    path = tmp_path / "small-burst.toml"
    path.write_text(text.replace("sessions = 16", f"sessions = {2 * SHARDS}"))
    return path


def _stress(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "stress", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def _verdict(report: Path) -> tuple[str, list[str]]:
    document = json.loads(report.read_text())
    return document["verdict"], sorted({f["checker"] for f in document["findings"]})


@pytest.mark.parametrize(("strategy", "verdict"), [("naive", "fail"), ("atomic", "pass")])
def test_four_pods_merge_to_the_verdict_of_one_run(
    server_factory: ServerFactory, tmp_path: Path, strategy: str, verdict: str
) -> None:
    # naive sleeps between its read and its write (far longer than a burst), so each pod's
    # bursts fork every time: a pod's verdict is decided, not drawn, on a loaded machine too.
    wide = ("--inject-delay-ms", "50") if strategy == "naive" else ()
    url = server_factory(strategy, grace=5.0, extra_args=wide).url
    scenario = str(_scenario(tmp_path))
    common = ["run", scenario, "--target", url, "--no-progress"]
    start = str(time.time() + 2)  # pods start at different moments and begin together
    pods = [
        _stress(*common, "--history", str(tmp_path / f"shard-{i}.jsonl"),
                env={"JOB_COMPLETION_INDEX": str(i), "AUTH_STRESS_SHARDS": str(SHARDS),
                     "AUTH_STRESS_RUN_ID": f"test-{strategy}", "AUTH_STRESS_RUN_KEY": "s3cret",
                     "AUTH_STRESS_START_AT": start})
        for i in range(SHARDS)
    ]  # fmt: skip
    whole = _stress(*common, "--history", str(tmp_path / "whole.jsonl"),
                    "--json", str(tmp_path / "whole.json"))  # fmt: skip
    for pod in pods:
        code, err = _finish(pod)
        assert code == (1 if verdict == "fail" else 0), err
        assert "AUTH_STRESS_RUN_KEY is not set" not in err
    merged = tmp_path / "merged.jsonl"
    histories = [str(tmp_path / f"shard-{i}.jsonl") for i in range(SHARDS)]
    code, err = _finish(_stress("merge", *histories, "-o", str(merged)))
    assert code == 0, err
    assert f"merged {SHARDS} shards of run test-{strategy}" in err
    code, err = _finish(_stress("analyze", str(merged), "--json", str(tmp_path / "merged.json")))
    assert code == (1 if verdict == "fail" else 0), err
    assert _finish(whole)[0] == code
    merged_verdict, merged_classes = _verdict(tmp_path / "merged.json")
    whole_verdict, whole_classes = _verdict(tmp_path / "whole.json")
    assert merged_verdict == whole_verdict == verdict
    if verdict == "fail":  # a naive server forks under every tab burst, sharded or not
        assert "fork" in merged_classes
        assert "fork" in whole_classes
    report = json.loads((tmp_path / "merged.json").read_text())
    assert any("start skew against the agreed start" in note for note in report["notes"])
    # Every session ran exactly once, in one shard or another.
    sessions = [
        {json.loads(line).get("session") for line in path.read_text().splitlines()} - {None}
        for path in map(Path, histories)
    ]
    assert sorted(n for part in sessions for n in part) == list(range(2 * SHARDS))
