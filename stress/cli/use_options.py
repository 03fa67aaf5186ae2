"""How ``use`` calls the protected API when a GET will not do, shared by ``init`` and ``policy``.

``--resource`` alone is ``GET`` with the access token as a Bearer header (``target.resource``).
A GraphQL API, or any API whose call is a POST with a body, is named by ``--use-method`` and
``--use-json`` beside it, which make the ``[target.use]`` request instead: the same path, that
method and that JSON body, the access token presented as ``resource`` presents it unless the
body or path holds ``{access_token}`` itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, get_args

import typer

from stress.cli.custom_options import json_object
from stress.cli.output import fail
from stress.scenario import HttpMethod
from stress.types import ExitCode

__all__ = ["UseJson", "UseMethod", "UseShape", "use_call", "use_shape"]

UseMethod = Annotated[
    str | None,
    typer.Option(
        help="The protected API's method, when a `use` is not a GET (POST for a GraphQL query; "
        "with --resource)."
    ),
]
UseJson = Annotated[
    str | None,
    typer.Option(
        help='The protected API\'s JSON body, e.g. \'{"query": "{ viewer { id } }"}\' (POST '
        "unless --use-method says otherwise; with --resource)."
    ),
]


@dataclass(frozen=True)
class UseShape:
    """What ``--use-method`` and ``--use-json`` say, before the path is known."""

    method: str
    json: dict[str, Any] | None

    def flags(self) -> list[str]:
        """The flags that name this call again (``--resource`` is the caller's)."""
        body = ["--use-json", json.dumps(self.json)] if self.json is not None else []
        return ["--use-method", self.method, *body]


def use_shape(method: str | None, body: str | None) -> UseShape | None:
    """The flags checked at once (exit 2 when malformed); None when neither is given."""
    if method is None and body is None:
        return None
    methods = get_args(HttpMethod)
    chosen = (method or ("POST" if body is not None else "GET")).upper()
    if chosen not in methods:
        raise fail(ExitCode.USAGE, f"--use-method {method!r}: expected one of {', '.join(methods)}")
    if chosen == "GET" and body is not None:
        raise fail(ExitCode.USAGE, "--use-json: a GET sends no body; give --use-method POST")
    parsed = json_object("--use-json", body)
    if parsed is not None and _has_null(parsed):
        raise fail(
            ExitCode.USAGE,
            "--use-json: a scenario cannot hold a JSON null (TOML has none); leave the key out",
        )
    return UseShape(chosen, parsed)


def use_call(resource: str | None, shape: UseShape | None) -> dict[str, Any] | None:
    """The ``[target.use]`` table's fields for ``shape`` on ``resource``, None for a plain GET
    of it (or no API); exit 2 when the use flags come without a path."""
    if shape is None:
        return None
    if not resource:
        raise fail(ExitCode.USAGE, "--use-method, --use-json: go with --resource (the API's path)")
    table: dict[str, Any] = {"path": resource, "method": shape.method}
    if shape.json is not None:
        table["json"] = shape.json
    return table


def _has_null(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_null(v) for v in value)
    return False
