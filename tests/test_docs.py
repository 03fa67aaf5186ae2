"""The documentation cannot rot: the scenario reference names every key of the schema, and
every TOML example in the README and docs/ is valid."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from msgspec import inspect

from stress.checkers import CHECKERS
from stress.scenario import Scenario, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
REFERENCE = ROOT / "docs" / "scenarios.md"

# Which section of the reference documents each table of the schema.
SECTIONS = {
    "Scenario": "## Top level",
    "TargetSpec": "## `[target]`",
    "RequestSpec": "### Request templates",
    "AuthSpec": "## `[auth]`",
    "PolicySpec": "## `[policy]`",
    "RunSpec": "## `[run]`",
    "ThresholdSpec": "## `[thresholds]`",
}
STEPS = "## `[[steps]]`"


def _section(text: str, heading: str) -> str:
    start = text.index(heading + "\n")
    level = heading.split(" ")[0]
    following = re.search(rf"^#{{1,{len(level)}}} ", text[start + len(heading) :], re.M)
    end = start + len(heading) + following.start() if following else len(text)
    return text[start:end]


def _structs(info: inspect.Type) -> list[inspect.StructType]:
    while isinstance(info, inspect.Metadata):
        info = info.type
    if isinstance(info, inspect.StructType):
        return [info]
    if isinstance(info, inspect.UnionType):
        return [s for t in info.types for s in _structs(t)]
    if isinstance(info, inspect.ListType):
        return _structs(info.item_type)
    if isinstance(info, inspect.DictType):
        return _structs(info.value_type)
    return []


def _tables() -> list[inspect.StructType]:
    found: dict[type, inspect.StructType] = {}
    todo = [inspect.type_info(Scenario)]
    while todo:
        struct = todo.pop()
        if struct.cls in found:
            continue
        found[struct.cls] = struct
        todo += [s for f in struct.fields for s in _structs(f.type)]
    return list(found.values())


@pytest.mark.parametrize("table", _tables(), ids=lambda t: t.cls.__name__)
def test_the_scenario_reference_names_every_key(table: inspect.StructType) -> None:
    text = REFERENCE.read_text()
    heading = STEPS if table.tag_field == "op" else SECTIONS[table.cls.__name__]
    section = _section(text, heading)
    if table.tag is not None:
        assert f"`{table.tag}`" in section, f"step op {table.tag!r} missing under {heading}"
    for field in table.fields:
        if field.encode_name != table.tag_field:
            assert f"`{field.encode_name}`" in section, f"{field.encode_name} under {heading}"


def _toml_blocks() -> list[tuple[str, str]]:
    blocks = []
    for path in DOCS:
        for i, match in enumerate(re.finditer(r"```toml\n(.*?)```", path.read_text(), re.S)):
            blocks.append((f"{path.relative_to(ROOT)}#{i}", match.group(1)))
    return blocks


MINIMAL = {
    "name": "doc",
    "target": {"kind": "oauth2", "base_url": "http://127.0.0.1:8000", "resource": "/api/me"},
    "auth": {"password": "password"},
    "policy": {"kind": "strict"},
    "steps": [{"op": "login"}],
}


def _merged(base: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value) if key != "policy" else value
        else:
            merged[key] = value
    return merged


@pytest.mark.parametrize(("where", "text"), _toml_blocks(), ids=[w for w, _ in _toml_blocks()])
def test_every_toml_example_is_a_valid_scenario_or_part_of_one(where: str, text: str) -> None:
    data = tomllib.loads(text)
    # A fragment (a [policy] table, a [target] with templates) completes a minimal scenario,
    # whose protected API is the fragment's own where it describes its use.
    base = MINIMAL
    if "use" in data.get("target", {}):
        target = {k: v for k, v in MINIMAL["target"].items() if k != "resource"}
        base = {**MINIMAL, "target": target}
    parse_scenario(_merged(base, data), where)


@pytest.mark.parametrize(
    "path", sorted((ROOT / "docs" / "examples").glob("*.toml")), ids=lambda p: p.name
)
def test_the_example_scenarios_are_valid(path: Path) -> None:
    assert load_scenario(path).name == path.stem


def test_every_checker_is_explained_in_the_concepts() -> None:
    text = _section((ROOT / "docs" / "concepts.md").read_text(), "## Checkers")
    for checker in CHECKERS:
        assert f"| `{checker}` |" in text, checker
