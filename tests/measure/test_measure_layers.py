"""The deciding half of the measurement stays off the network, like the checkers."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_layers import NETWORK, ROOT, hits, imports

PURE = [
    ROOT / "stress/measure" / name for name in ("decide.py", "search.py", "result.py", "drift.py")
]


@pytest.mark.parametrize("path", PURE, ids=lambda p: p.name)
def test_deciding_modules_stay_off_the_network(path: Path) -> None:
    assert not hits(imports(path), (*NETWORK, "stress.measure.trials", "stress.measure.runner"))
