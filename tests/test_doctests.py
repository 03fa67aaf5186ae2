"""The examples in docstrings run, so that what a reader copies from one is true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest

import reference_server
import stress


def _modules() -> list[str]:
    names = []
    for package in (stress, reference_server):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):
                names.append(info.name)
    return sorted(names)


def _with_examples(name: str) -> ModuleType | None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    return module if any(test.examples for test in finder.find(module)) else None


@pytest.mark.parametrize("name", [n for n in _modules() if _with_examples(n) is not None])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
