"""A GraphQL auth API, as an Apollo or Yoga server answers, with the multi-tab bug of its own.

It is an independent target: the tester must judge it from the scenario alone. ``POST
/graphql`` takes ``{"query", "variables"}``; the operation is the mutation or query the text
names (this target reads no more of GraphQL than that):

- ``login(email, password)`` and ``refresh(token)`` answer ``{accessToken, refreshToken}`` under
  the field's alias (``tokens: refresh(...)``, so that both answers have one path);
- ``logout(token)`` answers ``true``; the query ``{me{email}}`` is the API, in the URL of a
  GET or the body of a POST.

Every refusal is a 200 with ``errors`` and null data, as GraphQL servers answer: code
``UNAUTHENTICATED`` for a token it does not take, ``BAD_USER_INPUT`` for a bad password. Its
bug: strict single use with reuse detection and no grace, so when two tabs refresh at once the
losers are taken for thieves and the family is revoked (the user is logged out). With
``--unexpected`` a reuse is refused as Apollo refuses a resolver's plain ``Error``: code
``INTERNAL_SERVER_ERROR``, which says nothing of what was consumed.

Run: ``python -m tests.targets.graphql_api --port 8124``.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PASSWORD = "hunter2"
_FIELD = re.compile(r"(?:(\w+)\s*:\s*)?(login|refresh|logout|me)\b")


@dataclass
class Family:
    user: str
    current: str
    revoked: bool = False
    used: set[str] = field(default_factory=set)


@dataclass
class Store:
    families: dict[str, Family] = field(default_factory=dict)
    by_refresh: dict[str, str] = field(default_factory=dict)
    by_access: dict[str, str] = field(default_factory=dict)

    def issue(self, family_id: str) -> dict[str, str]:
        refresh, access = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.by_refresh[refresh] = family_id
        self.by_access[access] = family_id
        self.families[family_id].current = refresh
        return {"accessToken": access, "refreshToken": refresh}


def _refused(name: str, message: str, code: str) -> Response:
    """A GraphQL refusal: 200, ``errors`` with the code, and the field null."""
    errors = [{"message": message, "path": [name], "extensions": {"code": code}}]
    return JSONResponse({"errors": errors, "data": {name: None}})


def build_app(unexpected: bool = False) -> Starlette:
    store = Store()

    def reuse(name: str) -> Response:
        if unexpected:
            return _refused(name, "Refresh token reuse detected", "INTERNAL_SERVER_ERROR")
        return _refused(name, "Refresh token reuse detected", "UNAUTHENTICATED")

    def login(name: str, variables: dict[str, Any]) -> Response:
        email, password = variables.get("email"), variables.get("password")
        if not isinstance(email, str) or password != PASSWORD:
            return _refused(name, "Invalid email or password", "BAD_USER_INPUT")
        family_id = secrets.token_hex(8)
        store.families[family_id] = Family(user=email, current="")
        return JSONResponse({"data": {name: store.issue(family_id)}})

    def refresh(name: str, variables: dict[str, Any]) -> Response:
        token = variables.get("token")
        family = store.families.get(store.by_refresh.get(token, "")) if token else None
        if family is None or family.revoked:
            return _refused(name, "Invalid refresh token", "UNAUTHENTICATED")
        if token != family.current or token in family.used:
            family.revoked = True  # the bug: a sibling tab is taken for a thief
            return reuse(name)
        family.used.add(token)
        return JSONResponse({"data": {name: store.issue(store.by_refresh[token])}})

    def logout(name: str, variables: dict[str, Any]) -> Response:
        family = store.families.get(store.by_refresh.get(variables.get("token", ""), ""))
        if family is not None:
            family.revoked = True
        return JSONResponse({"data": {name: True}})

    async def graphql(request: Request) -> Response:
        if request.method == "GET":
            query, variables = request.query_params.get("query", ""), {}
        else:
            body = await request.json()
            query, variables = body.get("query", ""), body.get("variables") or {}
        found = _FIELD.search(query)
        if found is None:
            errors = [
                {
                    "message": "Cannot query this",
                    "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
                }
            ]
            return JSONResponse({"errors": errors}, status_code=400)
        name, operation = found.group(1) or found.group(2), found.group(2)
        if operation == "me":
            header = request.headers.get("authorization", "")
            family = store.families.get(store.by_access.get(header.removeprefix("Bearer "), ""))
            if family is None or family.revoked:
                return _refused(name, "Not signed in", "UNAUTHENTICATED")
            return JSONResponse({"data": {name: {"email": family.user}}})
        handler = {"login": login, "refresh": refresh, "logout": logout}[operation]
        return handler(name, variables)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )


def create_app() -> Starlette:
    """The app granian serves, ``--unexpected`` passed through the environment."""
    return build_app(unexpected=os.environ.get("GRAPHQL_UNEXPECTED") == "1")


def main() -> None:
    from granian import Granian
    from granian.constants import Interfaces

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--unexpected",
        action="store_true",
        help="refuse a reuse as Apollo refuses a plain Error (INTERNAL_SERVER_ERROR)",
    )
    args = parser.parse_args()
    os.environ["GRAPHQL_UNEXPECTED"] = "1" if args.unexpected else "0"
    Granian(
        "tests.targets.graphql_api:create_app",
        factory=True,
        address="127.0.0.1",
        port=args.port,
        interface=Interfaces.ASGI,
        websockets=False,
    ).serve()


if __name__ == "__main__":
    main()
