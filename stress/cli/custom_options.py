"""The options that name a custom JSON or cookie API, shared by ``init`` and ``policy``.

A custom API is named by its login and refresh paths (``--login-path``, ``--refresh-path``);
what it does with its tokens is learnt by :mod:`stress.custom_probe` from one login of the
first test user and one refresh, so the password's variable must be set even when ``init`` is
told the policy. The OAuth 2.0 flags (endpoints, client, scope) and ``--mint-command`` do not
apply.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urljoin

import typer

from stress.cli.client_options import client_flags
from stress.cli.output import fail, stderr
from stress.control_http import control_client
from stress.custom_probe import CustomPaths, CustomShape, probe_custom_api
from stress.errors import TargetError
from stress.http_tls import Verify
from stress.scenario import joinable
from stress.starter import ClientSetup, PasswordLogin
from stress.target import with_user_agent
from stress.types import ExitCode
from stress.wire import run as run_async

__all__ = [
    "CsrfPreflight",
    "LoginJson",
    "LoginPath",
    "RefreshCookie",
    "RefreshJson",
    "RefreshPath",
    "RevokeJson",
    "RevokePath",
    "custom_flags",
    "custom_paths",
    "json_object",
    "oauth_only",
    "probe",
]

_PROBE_TIMEOUT_S = 10.0

LoginPath = Annotated[
    str | None, typer.Option(help="Custom API: the login path (JSON body, with --refresh-path).")
]
RefreshPath = Annotated[str | None, typer.Option(help="Custom API: the refresh path.")]
RevokePath = Annotated[str | None, typer.Option(help="Custom API: the logout path, if any.")]
LoginJson = Annotated[
    str | None,
    typer.Option(
        help="Custom API: the login body as a JSON object with {username} and {password} "
        "(default: tried as username/password, then email/password)."
    ),
]
RefreshJson = Annotated[
    str | None,
    typer.Option(
        help="Custom API: the refresh body as a JSON object with {refresh_token}, where no "
        "usual body fits (a GraphQL mutation with its variables; default: found)."
    ),
]
RevokeJson = Annotated[
    str | None,
    typer.Option(
        help="Custom API: the logout body as a JSON object with {refresh_token} (a GraphQL "
        "mutation; default: as the refresh presents the token)."
    ),
]
RefreshCookie = Annotated[
    str | None,
    typer.Option(help="Custom API: the cookie holding the refresh token (default: found)."),
]
CsrfPreflight = Annotated[
    str | None,
    typer.Option(
        help="Custom API: a path to GET before each login when the login wants a CSRF value "
        "(as Django's, Spring Security's and Laravel's do)."
    ),
]


def custom_paths(
    login: str | None,
    refresh: str | None,
    revoke: str | None,
    login_json: str | None,
    refresh_cookie: str | None,
    csrf_preflight: str | None = None,
    bodies: tuple[str | None, str | None] = (None, None),
) -> CustomPaths | None:
    """The custom API the flags name, None for an OAuth 2.0 target; exit 2 when they clash.
    ``bodies`` are ``--refresh-json`` and ``--revoke-json``."""
    refresh_json, revoke_json = bodies
    if login is None and refresh is None:
        extra = [
            flag
            for flag, value in (
                ("--revoke-path", revoke),
                ("--login-json", login_json),
                ("--refresh-json", refresh_json),
                ("--revoke-json", revoke_json),
                ("--refresh-cookie", refresh_cookie),
                ("--csrf-preflight", csrf_preflight),
            )
            if value is not None
        ]
        if extra:
            raise fail(
                ExitCode.USAGE, f"{', '.join(extra)}: go with --login-path and --refresh-path"
            )
        return None
    if login is None or refresh is None:
        raise fail(ExitCode.USAGE, "--login-path and --refresh-path go together (a custom API)")
    if revoke_json is not None and revoke is None:
        raise fail(ExitCode.USAGE, "--revoke-json goes with --revoke-path")
    for flag, path in (
        ("--login-path", login),
        ("--refresh-path", refresh),
        ("--revoke-path", revoke),
        ("--csrf-preflight", csrf_preflight),
    ):
        if path is not None and not joinable(path):
            raise fail(ExitCode.USAGE, f"{flag} {path!r}: expected a path or an http(s) URL")
    return CustomPaths(
        login,
        refresh,
        revoke,
        json_object("--login-json", login_json),
        refresh_cookie,
        csrf_preflight,
        json_object("--refresh-json", refresh_json, "{refresh_token}"),
        json_object("--revoke-json", revoke_json),
    )


def json_object(flag: str, text: str | None, needs: str | None = None) -> dict[str, Any] | None:
    """``text`` as the JSON object it must be (holding ``needs`` somewhere), or exit 2."""
    if text is None:
        return None
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise fail(ExitCode.USAGE, f"{flag}: not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise fail(ExitCode.USAGE, f"{flag}: expected a JSON object")
    if needs is not None and needs not in text:
        raise fail(ExitCode.USAGE, f"{flag}: expected {needs} where the token goes")
    return body


def oauth_only(
    client_id: str | None, mint_command: str | None, client_auth: str | None, setup: ClientSetup
) -> None:
    """Exit 2 naming the OAuth 2.0 flags given for a custom API, if any."""
    named = {"--client-id": client_id, "--mint-command": mint_command, "--client-auth": client_auth}
    given = [flag for flag, value in named.items() if value is not None]
    oauth = dataclasses.replace(
        setup, headers=(), headers_env=(), client_cert_env=None, client_cert_key_env=None
    )
    given += client_flags(oauth)[::2]
    if given:
        raise fail(
            ExitCode.USAGE,
            f"{', '.join(given)}: for OAuth 2.0 targets; a custom API is named by --login-path "
            "and --refresh-path",
        )


def probe(
    target: str,
    paths: CustomPaths,
    login: PasswordLogin,
    verify: Verify = True,
    headers: Sequence[tuple[str, str]] = (),
) -> CustomShape:
    """What the first test user's login and refresh show of the API (exit 3 when they fail);
    ``headers`` go with each of its requests."""
    password = os.environ[login.password_env]
    username = login.username.replace("{n}", "0")
    base = target if target.endswith("/") else target + "/"

    async def run() -> CustomShape:
        async with control_client(
            timeout=_PROBE_TIMEOUT_S, verify=verify, headers=with_user_agent(headers)
        ) as http:
            return await probe_custom_api(http, base, paths, username=username, password=password)

    try:
        shape = run_async(run)
    except TargetError as exc:
        raise fail(ExitCode.INCONCLUSIVE, f"{target}: {exc}") from None
    access = (
        f"access token in the cookie {shape.access_cookie}"
        if shape.access_cookie is not None
        else f"access token at {shape.access_token_path}"
    )
    if shape.login_access_token_path is not None:
        access += f" (the login's at {shape.login_access_token_path})"
    refresh = (
        f"refresh token at {shape.refresh_token_path}"
        if shape.refresh_cookie is None
        else f"refresh token in the cookie {shape.refresh_cookie}"
    )
    if shape.login_refresh_token_path is not None:
        refresh += f" (the login's at {shape.login_refresh_token_path})"
    if shape.csrf_cookie is not None:
        refresh += f", CSRF cookie {shape.csrf_cookie} sent back as {shape.csrf_sent_as}"
    elif shape.csrf_token_path is not None:
        refresh += f", CSRF value at {shape.csrf_token_path} sent back as {shape.csrf_sent_as}"
    if shape.csrf_after_login:
        refresh += " (fetched again after the login, which replaces it)"
    if shape.refresh_cookie_path is not None:
        refresh += f" (set for the path {shape.refresh_cookie_path} only)"
    if shape.session_cookies:
        refresh += f", the session's cookies {', '.join(shape.session_cookies)} sent back"
    stderr.print(
        f"found: a {shape.kind} API, {access}, {refresh}{_logout(shape)}",
        highlight=False,
        soft_wrap=True,
    )
    if shape.logout_kept_refresh:
        revoke = shape.paths.revoke or ""
        unsent = shape.unsent_note(urljoin(base, revoke))
        stderr.print(
            f"note: the logout at {revoke} answered with a 2xx, yet the refresh token of the "
            f"session it logged out{unsent} still refreshed after it: it revokes nothing on the "
            "server, and a run's revoke steps will report that (revocation-race)",
            highlight=False,
            soft_wrap=True,
        )
    return shape


def _logout(shape: CustomShape) -> str:
    """How the probe found the logout wants the session, for the ``found:`` line."""
    if shape.paths.revoke is None:
        return ""
    how = {
        "as-refresh": "as the refresh presents it",
        "with-access": "as the refresh presents it, with the access token as Bearer",
        "access": "by the access token as Bearer alone",
    }[shape.revoke_way]
    return f"; the logout ({shape.revoke_method} {shape.paths.revoke}) takes the session {how}"


def custom_flags(paths: CustomPaths) -> list[str]:
    """The flags that name ``paths`` again, for a command line a person can rerun."""
    values: dict[str, Any] = {
        "--login-path": paths.login,
        "--refresh-path": paths.refresh,
        "--revoke-path": paths.revoke,
        "--login-json": None if paths.login_json is None else json.dumps(paths.login_json),
        "--refresh-json": None if paths.refresh_json is None else json.dumps(paths.refresh_json),
        "--revoke-json": None if paths.revoke_json is None else json.dumps(paths.revoke_json),
        "--refresh-cookie": paths.refresh_cookie,
        "--csrf-preflight": paths.csrf_preflight,
    }
    flags: list[str] = []
    for flag, value in values.items():
        if value is not None:
            flags += [flag, str(value)]
    return flags
