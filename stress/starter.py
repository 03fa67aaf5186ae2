"""``auth-stress init``: a starter scenario for a real target, found by discovery.

Writing the first scenario by hand means reading the schema and the target's metadata at once;
most people stop there. ``init`` asks the target (RFC 8414 / OpenID Connect discovery) where its
token, revocation and JWKS endpoints are, takes the few answers only a person knows (client id,
test users), measures the policy the target really has (``auth-stress policy``; or takes the
one a person declares) and writes a commented multi-tab burst scenario. The text is
validated with the same parser as ``auth-stress check`` before anything is written, so the
file it produces is always accepted.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stress.control_http import control_client
from stress.custom_probe import CustomShape
from stress.discovery import Discovery, discover
from stress.errors import ScenarioError
from stress.http_tls import Verify
from stress.measure.result import policy_lines
from stress.policy import Policy
from stress.scenario import ClientAuth, Scenario, TargetSpec, parse_scenario
from stress.target import Endpoints, target_headers

__all__ = [
    "ClientSetup",
    "Login",
    "MintLogin",
    "PasswordLogin",
    "StarterAnswers",
    "declared_comments",
    "discover_endpoints",
    "render_starter",
    "target_spec",
]

# Per discovery request: metadata is small and a target that takes longer is effectively down.
_REQUEST_TIMEOUT_S = 10.0


_POLICY_NOTES: dict[str, str] = {
    "strict": "single use: a refresh token works once, concurrent losers may be rejected",
    "idempotent": "within the grace window the previous token returns the same successor",
    "overlap": "within the grace window reuse mints a new successor in the same family",
    "none": "no rotation: the same refresh token comes back on every refresh",
}


def declared_comments(policy: Policy) -> tuple[str, ...]:
    """The comment over a policy a person declared (not measured): what its preset means."""
    name = policy.preset
    return (f"{name}: {_POLICY_NOTES[name]}.",) if name is not None else ()


@dataclass(frozen=True)
class ClientSetup:
    """What a person says about the target beyond its base URL: endpoints that discovery does
    not find (or finds wrong), and how the client authenticates.

    Why: many real servers publish no RFC 8414 metadata, and most register the test client as
    confidential. These are the ``[target]`` fields of the scenario; ``fields`` gives the ones
    set, for discovery, the measurement and the written file alike.
    """

    token_endpoint: str | None = None
    revocation_endpoint: str | None = None
    jwks_uri: str | None = None
    client_secret_env: str | None = None
    client_auth: ClientAuth = "none"
    # private_key_jwt: the variable holding the private key, the key's id, and the audience.
    client_key_env: str | None = None
    client_key_id: str | None = None
    client_assertion_audience: str | None = None
    dpop: bool = False
    scope: str | None = None
    # Sent with every request, to any kind of target: (name, value), and (name, variable).
    headers: tuple[tuple[str, str], ...] = ()
    headers_env: tuple[tuple[str, str], ...] = ()
    # Presented on every connection, to any kind of target: the variables of the client
    # certificate (mutual TLS) and of its key.
    client_cert_env: str | None = None
    client_cert_key_env: str | None = None

    def fields(self) -> dict[str, Any]:
        """The ``[target]`` fields this setup sets, in the scenario's own names."""
        values: dict[str, Any] = {
            **self.shared_fields(),
            "token_endpoint": self.token_endpoint,
            "revocation_endpoint": self.revocation_endpoint,
            "jwks_uri": self.jwks_uri,
            "client_secret_env": self.client_secret_env,
            "client_auth": None if self.client_auth == "none" else self.client_auth,
            "client_key_env": self.client_key_env,
            "client_key_id": self.client_key_id,
            "client_assertion_audience": self.client_assertion_audience,
            "dpop": True if self.dpop else None,
            "scope": self.scope,
        }
        return {name: value for name, value in values.items() if value is not None}

    def shared_fields(self) -> dict[str, Any]:
        """The fields of every kind, those that are set: ``headers``, ``headers_env`` and the
        client certificate's variables."""
        values: dict[str, Any] = {
            "headers": dict(self.headers),
            "headers_env": dict(self.headers_env),
            "client_cert_env": self.client_cert_env,
            "client_cert_key_env": self.client_cert_key_env,
        }
        return {name: value for name, value in values.items() if value}


@dataclass(frozen=True)
class PasswordLogin:
    """The password grant: session ``n`` logs in as ``username`` with ``{n}`` replaced, with the
    password held in the variable ``password_env``."""

    username: str
    password_env: str

    def auth(self) -> dict[str, Any]:
        """The ``[auth]`` table."""
        return {"username": self.username, "password_env": self.password_env}

    def variables(self) -> list[tuple[str, str]]:
        """The variables a login reads, with what each holds."""
        return [(self.password_env, "the test users' password")]


@dataclass(frozen=True)
class MintLogin:
    """A command that logs session ``{n}`` in however the server wants (an authorization-code
    flow through its login page, a fixture) and prints the token response as JSON.

    Why: many servers offer no password grant (it is gone from OAuth 2.1 and from most OpenID
    providers), so their first token pair can only come from a script that a person writes.
    """

    command: tuple[str, ...]

    def auth(self) -> dict[str, Any]:
        """The ``[auth]`` table."""
        return {"mode": "mint", "command": list(self.command)}

    def variables(self) -> list[tuple[str, str]]:
        """The variables a login reads: none that the tester knows of."""
        return []

    def moved(self, here: Path, folder: Path) -> MintLogin:
        """The same command for a scenario in ``folder``, given as it runs from ``here``.

        A scenario's mint command runs in the scenario's folder, so what it names relative to
        ``here`` is rewritten relative to ``folder``: the program when it is a path
        (``./login.py``; a bare name is looked up on ``PATH`` and stays), and each argument
        that names a file or folder that exists here (``login.py`` in ``python login.py``).
        """
        program, *arguments = self.command
        moved = [_relocated(program, here, folder) if "/" in program else program]
        for argument in arguments:
            exists = not Path(argument).is_absolute() and (here / argument).exists()
            moved.append(_relocated(argument, here, folder) if exists else argument)
        return MintLogin(tuple(moved))


def _relocated(name: str, here: Path, folder: Path) -> str:
    """``name`` (relative to ``here``) relative to ``folder``, still spelled as a path."""
    if Path(name).is_absolute():
        return name
    relative = os.path.relpath((here / name).resolve(), folder.resolve())
    return relative if "/" in relative else f"./{relative}"


Login = PasswordLogin | MintLogin


@dataclass(frozen=True)
class StarterAnswers:
    """Everything the starter scenario needs beyond the discovered endpoints.

    ``policy_comments`` go above the ``[policy]`` fields: where the policy comes from (measured,
    and when) or what the declared preset means.
    """

    target: str
    name: str
    client_id: str | None
    login: Login
    policy: Policy
    policy_comments: tuple[str, ...] = ()
    resource: str | None = None
    # How ``use`` calls ``resource`` when not by a GET: the ``[target.use]`` table's fields.
    use: dict[str, Any] | None = None
    client: ClientSetup = field(default_factory=ClientSetup)
    parallel: int = 8
    sessions: int = 8


def target_spec(target: str, client: ClientSetup) -> TargetSpec:
    """The ``oauth2`` target of ``client``'s fields; ``ValueError`` when they contradict."""
    return TargetSpec(kind="oauth2", base_url=target, **client.fields())


async def discover_endpoints(
    target: str, client: ClientSetup | None = None, verify: Verify = True
) -> Discovery:
    """What discovery finds of the target: the endpoints ``client`` gives, its metadata's for
    the rest (``TargetError`` when it is unreachable or silent about one that is needed)."""
    spec = target_spec(target, client or ClientSetup())
    headers = target_headers(spec)
    async with control_client(timeout=_REQUEST_TIMEOUT_S, verify=verify, headers=headers) as http:
        return await discover(http, spec, target if target.endswith("/") else target + "/")


def _toml_str(value: str) -> str:
    """A TOML basic string (JSON escaping is a subset TOML accepts)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def _found(label: str, value: str | None) -> str:
    return f"#   {label:<11} {value or '(not advertised)'}"


def _auth_lines(login: Login) -> list[str]:
    if isinstance(login, PasswordLogin):
        return [
            "# Password grant; {n} is the session number, so each session is its own user.",
            f"username = {_toml_str(login.username)}",
            f"password_env = {_toml_str(login.password_env)}",
        ]
    command = ", ".join(_toml_str(arg) for arg in login.command)
    return [
        "# Each session's first token pair comes from this command, run in this file's folder",
        "# ({n} is the session number, {target} the base URL); it prints the token response.",
        'mode = "mint"',
        f"command = [{command}]",
    ]


def _oauth_target(answers: StarterAnswers, endpoints: Endpoints) -> list[str]:
    """The name and ``[target]`` of an OAuth 2.0 server, with what discovery found."""
    lines = [
        "# Endpoints (RFC 8414 / OpenID Connect discovery, or as given); discovery runs again",
        "# on every run for any not set in [target]:",
        _found("token", endpoints.token),
        _found("revocation", endpoints.revocation),
        _found("jwks", endpoints.jwks),
        *_name_lines(answers),
        'kind = "oauth2"',
        f"base_url = {_toml_str(answers.target)}",
    ]
    given = answers.client.fields()
    for name in ("token_endpoint", "revocation_endpoint", "jwks_uri"):
        if name in given:
            lines.append(f"{name} = {_toml_str(given[name])}")
    if answers.client_id:
        lines.append(f"client_id = {_toml_str(answers.client_id)}")
    else:
        lines.append('# client_id = "..."   # public clients usually must send one')
    comments = {
        "client_secret_env": "the secret's variable",
        "client_key_env": "the private key's variable (PEM)",
        "client_key_id": "the key's kid",
        "client_assertion_audience": "the assertion's aud",
    }
    if "client_auth" in given:
        lines.append(f"client_auth = {_toml_str(given['client_auth'])}")
        lines += [
            f"{name} = {_toml_str(given[name])}   # {comment}"
            for name, comment in comments.items()
            if name in given
        ]
    else:
        lines.append('# Confidential client: client_auth = "basic" and client_secret_env = "VAR".')
    if "dpop" in given:
        lines.append("dpop = true   # a DPoP proof with every request (RFC 9449)")
    if "scope" in given:
        lines.append(f"scope = {_toml_str(given['scope'])}")
    return lines + _resource_lines(answers) + _use_lines(answers)


def _custom_target(answers: StarterAnswers, shape: CustomShape) -> list[str]:
    """The name and ``[target]`` of a custom API, as one login and one refresh showed it."""
    fields = shape.target_fields()
    lines = [
        "# Custom API: where its tokens are was found by one login and one refresh.",
        *_name_lines(answers),
        f"kind = {_toml_str(shape.kind)}",
        f"base_url = {_toml_str(answers.target)}",
    ]
    if shape.access_cookie is not None:
        lines.append(f"access_cookie = {_toml_str(shape.access_cookie)}   # the access token")
    else:
        lines.append(f"access_token_path = {_toml_str(shape.access_token_path)}")
    if shape.refresh_token_path is not None:
        lines.append(f"refresh_token_path = {_toml_str(shape.refresh_token_path)}")
    for name, path in (("login_access_token_path", shape.login_access_token_path),
                       ("login_refresh_token_path", shape.login_refresh_token_path)):  # fmt: skip
        if path is not None:
            lines.append(f"{name} = {_toml_str(path)}   # where the login answers it")
    if shape.refresh_cookie is not None:
        lines.append(f"refresh_cookie = {_toml_str(shape.refresh_cookie)}   # the refresh token")
    if shape.refresh_cookie_path is not None:
        lines.append(
            f"refresh_cookie_path = {_toml_str(shape.refresh_cookie_path)}   # sent there only"
        )
    header = shape.csrf_sent_as
    if shape.csrf_cookie is not None:
        lines.append(
            f"csrf_cookie = {_toml_str(shape.csrf_cookie)}   # double submit: sent back as {header}"
        )
    if shape.csrf_token_path is not None:
        lines.append(f"csrf_token_path = {_toml_str(shape.csrf_token_path)}   # sent as {header}")
    if shape.paths.csrf_preflight is not None:
        lines.append(
            f"csrf_preflight = {_toml_str(shape.paths.csrf_preflight)}   # GET before each login"
        )
    if shape.csrf_after_login:
        lines.append("csrf_preflight_after_login = true   # and after: the login replaces it")
    if shape.session_cookies:
        lines.append(
            f"session_cookies = {_toml_value(list(shape.session_cookies))}   # sent back as set"
        )
    lines += _resource_lines(answers)
    for table in ("login", "refresh", "revoke"):
        if table in fields:
            lines += ["", f"[target.{table}]"]
            lines += [f"{key} = {_toml_value(value)}" for key, value in fields[table].items()]
    return lines + _use_lines(answers)


def _use_lines(answers: StarterAnswers) -> list[str]:
    """The ``[target.use]`` table, when a use is not a GET (a GraphQL query)."""
    if answers.use is None:
        return []
    lines = ["", "[target.use]   # the access token goes as `resource` sends it"]
    return lines + [f"{key} = {_toml_value(value)}" for key, value in answers.use.items()]


def _name_lines(answers: StarterAnswers) -> list[str]:
    return [
        "#",
        "# Validate: auth-stress check FILE   Run: auth-stress run FILE [--target URL ...]",
        f"name = {_toml_str(answers.name)}",
        f"description = {_toml_str(f'{answers.parallel} tabs refresh one token at once')}",
        "",
        "[target]",
    ]


def _resource_lines(answers: StarterAnswers) -> list[str]:
    """The protected API, then the headers sent with every request (both kinds end so)."""
    if answers.use is not None:
        lines = ["# The protected API for `use`: see [target.use] below."]
    elif answers.resource:
        lines = [f"resource = {_toml_str(answers.resource)}   # protected API for `use`"]
    else:
        lines = ['# resource = "/api/me"   # a protected API, to add {op = "use"} steps']
    given = answers.client.shared_fields()
    if "client_cert_env" in given:
        lines.append(
            f"client_cert_env = {_toml_str(given['client_cert_env'])}   # the client "
            "certificate's variable (PEM): mutual TLS"
        )
    if "client_cert_key_env" in given:
        lines.append(
            f"client_cert_key_env = {_toml_str(given['client_cert_key_env'])}   # its key's"
        )
    if "headers" in given:
        lines.append(f"headers = {_toml_value(given['headers'])}   # with every request")
    if "headers_env" in given:
        lines.append(
            f"headers_env = {_toml_value(given['headers_env'])}   # each read from the variable"
        )
    return lines


def _toml_value(value: Any) -> str:
    """A TOML value for JSON data: strings, numbers, booleans, arrays and inline tables."""
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()]
        return "{ " + ", ".join(pairs) + " }" if pairs else "{}"
    raise ScenarioError(f"a JSON null cannot be written in TOML (found in {value!r})")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_str(key)


def render_starter(
    answers: StarterAnswers, described: Endpoints | CustomShape
) -> tuple[str, Scenario]:
    """The commented scenario text and its parsed form; raises ``ScenarioError`` if invalid.

    ``described`` is what init learnt of the target: an OAuth 2.0 server's endpoints, or where a
    custom API keeps its tokens.
    """
    lines = [
        f"# Starter scenario for {answers.target}, written by `auth-stress init`.",
        "#",
        "# Multi-tab burst: each session logs in, then several tabs refresh the same refresh",
        "# token at once, twice; every leaf token is probed when the run is quiet. Checkers:",
        "# fork, sibling-invalidation, token-uniqueness, jwt-claims, server-error.",
        "# A failure means users get logged out at random or rotation is silently defeated.",
        "#",
    ]
    if isinstance(described, Endpoints):
        lines += _oauth_target(answers, described)
    else:
        lines += _custom_target(answers, described)
    lines += [
        "",
        "[auth]",
        *_auth_lines(answers.login),
        "",
        "[policy]",
        *(f"# {comment}" for comment in answers.policy_comments),
        *policy_lines(answers.policy),
        "",
        "[run]",
        f"sessions = {answers.sessions}",
        "op_timeout_seconds = 5",
        "max_seconds = 60",
        "",
        "[[steps]]",
        'op = "login"',
    ]
    for _ in range(2):
        lines += [
            "",
            "[[steps]]",
            'op = "refresh"',
            f"parallel = {answers.parallel}",
            'sync = "auto"   # none, barrier, last-byte (HTTP/1.1), single-packet (HTTP/2)',
        ]
        if answers.resource:
            lines += ["", "[[steps]]", 'op = "use"']
    text = "\n".join(lines) + "\n"
    scenario = parse_scenario(tomllib.loads(text), "generated scenario")
    return text, scenario
