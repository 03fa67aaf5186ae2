"""Validation errors a person can act on: where, what was expected, what was found, what to do.

msgspec says ``Expected `int` <= 1024 - at `$.steps[1].parallel```; a user needs
``steps[1].parallel: expected `int` <= 1024, found 100000``, and for a typo
``unknown key `concurency` in [run]; did you mean `concurrency`?``. This module turns the one
into the other, walking the schema (through ``msgspec.inspect``) to the table the error is in.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import msgspec
from msgspec import inspect

__all__ = ["explain"]

_AT = re.compile(r"^(?P<what>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_SEGMENT = re.compile(r"\.(?P<key>[A-Za-z0-9_-]+)|\[(?P<index>\d+)\]")
_MISSING = object()


def _segments(path: str) -> list[str | int]:
    return [
        int(m.group("index")) if m.group("index") is not None else m.group("key")
        for m in _SEGMENT.finditer(path)
    ]


def _label(segments: list[str | int]) -> str:
    out = ""
    for part in segments:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top level)"


def _value(data: Any, segments: list[str | int]) -> Any:
    node = data
    for part in segments:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return _MISSING
            node = node[part]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return _MISSING
    return node


def _struct(info: inspect.Type, data: Any) -> inspect.StructType | None:
    """The struct ``info`` stands for, choosing a tagged union's member by ``data``'s tag."""
    while isinstance(info, inspect.Metadata):
        info = info.type
    if isinstance(info, inspect.StructType):
        return info
    if isinstance(info, inspect.UnionType):
        structs = [t for t in info.types if isinstance(t, inspect.StructType)]
        for struct in structs:
            if isinstance(data, dict) and data.get(struct.tag_field or "") == struct.tag:
                return struct
        return structs[0] if len(structs) == 1 else None
    return None


def _walk(root: type, data: Any, segments: list[str | int]) -> inspect.Type | None:
    """The schema type at ``segments`` (a table, a field), or None when it cannot be told."""
    info: inspect.Type = inspect.type_info(root)
    node = data
    for part in segments:
        while isinstance(info, inspect.Metadata):
            info = info.type
        if isinstance(part, int):
            if not isinstance(info, inspect.ListType) or not isinstance(node, list):
                return None
            info, node = info.item_type, node[part] if part < len(node) else None
            continue
        struct = _struct(info, node)
        field = next((f for f in struct.fields if f.encode_name == part), None) if struct else None
        if field is None:
            return None
        info, node = field.type, node.get(part) if isinstance(node, dict) else None
    return info


def _table(root: type, data: Any, segments: list[str | int]) -> inspect.StructType | None:
    info = _walk(root, data, segments)
    return None if info is None else _struct(info, _value(data, segments))


def _choices(root: type, data: Any, segments: list[str | int]) -> list[str]:
    """The values a literal field, or a tagged union's tag, accepts."""
    if segments and isinstance(segments[-1], str):
        parent = _walk(root, data, segments[:-1])
        while isinstance(parent, inspect.Metadata):
            parent = parent.type
        if isinstance(parent, inspect.UnionType):
            members = [t for t in parent.types if isinstance(t, inspect.StructType)]
            if members and all(t.tag_field == segments[-1] for t in members):
                return [str(t.tag) for t in members]
    info = _walk(root, data, segments)
    while isinstance(info, inspect.Metadata):
        info = info.type
    if isinstance(info, inspect.UnionType):
        info = next((t for t in info.types if isinstance(t, inspect.LiteralType)), None)
    if isinstance(info, inspect.LiteralType):
        return [str(v) for v in info.values]
    return []


def _where(segments: list[str | int]) -> str:
    if not segments:
        return "at the top level"
    label = _label(segments)
    return f"in `{label}`" if any(isinstance(part, int) for part in segments) else f"in [{label}]"


def _unknown(root: type, data: Any, segments: list[str | int], key: str) -> str:
    table = _table(root, data, segments)
    message = f"unknown key `{key}` {_where(segments)}"
    if table is None:
        return message
    names = [f.encode_name for f in table.fields if f.encode_name != table.tag_field]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean `{close[0]}`?"
    return f"{message}; expected one of {', '.join(f'`{n}`' for n in names)}"


def explain(exc: msgspec.ValidationError, root: type, data: Any) -> str:
    """A one-line explanation of ``exc`` raised while converting ``data`` to ``root``."""
    match = _AT.match(str(exc))
    what, segments = (
        (match.group("what"), _segments(match.group("path")))
        if match
        else (
            str(exc),
            [],
        )
    )
    unknown = re.fullmatch(r"Object contains unknown field `(?P<key>[^`]+)`", what)
    if unknown:
        return _unknown(root, data, segments, unknown.group("key"))
    missing = re.fullmatch(r"Object missing required field `(?P<key>[^`]+)`", what)
    if missing:
        return f"missing key `{missing.group('key')}` {_where(segments)}"
    label = _label(segments)
    found = _value(data, segments)
    invalid = re.fullmatch(r"Invalid (?:enum )?value (?P<value>.+)", what)
    if invalid:
        choices = _choices(root, data, segments)
        close = difflib.get_close_matches(str(found), choices, n=1, cutoff=0.6)
        if close:
            hint = f"; did you mean `{close[0]}`?"
        else:
            hint = f"; expected one of {', '.join(choices)}" if choices else ""
        return f"`{label}`: {invalid.group('value')} is not a valid value{hint}"
    if what.startswith("Expected "):
        text = "expected " + what.removeprefix("Expected ")
        shown = "" if found is _MISSING or ", got " in text else f", found {found!r}"
        return f"`{label}`: {text}{shown}"
    return f"`{label}`: {what}" if segments else what
