"""The Kubernetes manifests of the sharding guide are valid Kubernetes objects (checked offline
against the API schema), and agree with what the tester reads from a pod's environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from stress.shard import COUNT_ENV

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = sorted((ROOT / "docs" / "examples").glob("k8s-*.yaml"))
VERSION = "1.33.0"  # backoffLimitPerIndex is stable from 1.33


def _objects(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_the_manifest_validates_against_the_kubernetes_schema(path: Path) -> None:
    for obj in _objects(path):
        kubernetes_validate.validate(obj, VERSION, strict=True)


def test_a_misspelt_field_would_be_caught() -> None:
    job = next(o for o in _objects(MANIFESTS[-1]) if o["kind"] == "Job")
    job["spec"]["completionsMode"] = job["spec"].pop("completionMode")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, VERSION, strict=True)


def test_the_indexed_job_tells_each_pod_the_shard_count() -> None:
    (job,) = [
        o for o in _objects(ROOT / "docs/examples/k8s-sharded-job.yaml") if o["kind"] == "Job"
    ]
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    (container,) = spec["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env[COUNT_ENV]["value"] == str(spec["completions"])
    assert "secretKeyRef" in env["AUTH_STRESS_RUN_KEY"]["valueFrom"]
    assert "AUTH_STRESS_RUN_ID" in env
