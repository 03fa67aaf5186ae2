"""Import direction (DESIGN.md): the analysis half never touches the network, and the tester
and the reference server never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NETWORK = ("httpx", "anyio", "h11", "h2", "socket", "ssl", "stress.wire", "stress.drive",
           "stress.discovery", "stress.pipeline", "stress.launcher", "redis")  # fmt: skip


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def hits(names: set[str], banned: tuple[str, ...]) -> set[str]:
    return {n for n in names if any(n == b or n.startswith(b + ".") for b in banned)}


@pytest.mark.parametrize("path", modules("stress"), ids=lambda p: str(p.relative_to(ROOT)))
def test_tester_never_imports_the_reference_server(path: Path) -> None:
    assert not hits(imports(path), ("reference_server",))


@pytest.mark.parametrize(
    "path", modules("reference_server"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_reference_server_never_imports_the_tester(path: Path) -> None:
    assert not hits(imports(path), ("stress",))


PURE = [
    *modules("stress/checkers"),
    *modules("stress/report"),
    ROOT / "stress/history.py",
    ROOT / "stress/run_record.py",
    ROOT / "stress/policy.py",
    ROOT / "stress/types.py",
    ROOT / "stress/errors.py",
    ROOT / "stress/fingerprint.py",
    ROOT / "stress/merge.py",
    ROOT / "stress/shard.py",
    ROOT / "stress/scenario.py",
    ROOT / "stress/set_cookie.py",
    ROOT / "stress/reproduce/tally.py",
    ROOT / "stress/reproduce/reduce.py",
    ROOT / "stress/reproduce/witness.py",
    ROOT / "stress/reproduce/render.py",
]


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_analysis_half_stays_off_the_network(path: Path) -> None:
    assert not hits(imports(path), NETWORK)


NETWORK_HALF = [*modules("stress/drive"), *modules("stress/wire")]


@pytest.mark.parametrize("path", NETWORK_HALF, ids=lambda p: str(p.relative_to(ROOT)))
def test_network_half_never_imports_the_analysis_half(path: Path) -> None:
    # What the driver knows of a run reaches the report only through the history.
    assert not hits(imports(path), ("stress.report", "stress.checkers", "stress.pipeline"))
