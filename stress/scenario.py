"""Scenario files: the declarative description of a run, loaded and validated strictly.

A scenario is TOML. Validation rejects unknown keys and never coerces types, and every error
names the file, the key path, what was expected and what was found, because a CI job that runs
the wrong scenario silently is worse than one that stops.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta, Struct

from stress.errors import ScenarioError
from stress.policy import Invariant, Policy, PresetName, Replay, ReuseScope, resolve_policy
from stress.scenario_errors import explain
from stress.set_cookie import path_matches
from stress.types import Engine, OpKind

__all__ = [
    "ASSERTED_AUTHS",
    "AUTH_METHODS",
    "TLS_AUTHS",
    "AuthSpec",
    "ClientAuth",
    "ClientProfile",
    "HttpMethod",
    "LoadStep",
    "LoginStep",
    "PolicySpec",
    "ProbeStep",
    "RefreshStep",
    "ReplayStep",
    "RequestSpec",
    "RevokeStep",
    "RunSpec",
    "Scenario",
    "SleepStep",
    "Step",
    "SyncEngineName",
    "TargetSpec",
    "ThresholdSpec",
    "UseStep",
    "load_scenario",
    "parse_scenario",
]

SyncEngineName = Engine
ClientProfile = Literal[
    "naive-parallel", "single-flight", "multi-tab", "lost-response-retry", "server-fan-out"
]
"""How a real client issues refreshes; what each one does is :mod:`stress.drive.profiles`."""
ClientAuth = Literal[
    "none",
    "body",
    "basic",
    "private_key_jwt",
    "client_secret_jwt",
    "tls_client_auth",
    "self_signed_tls_client_auth",
]
"""How an ``oauth2`` client authenticates: not at all, with its secret in the form body, by HTTP
Basic, with a JWT assertion (RFC 7523) signed by its private key or with its secret, or by the
certificate it presents in the TLS handshake (RFC 8705: one a CA issued, or a self-signed one
the client registered)."""
_SECRET_AUTHS = frozenset({"body", "basic", "client_secret_jwt"})
ASSERTED_AUTHS: frozenset[str] = frozenset({"private_key_jwt", "client_secret_jwt"})
"""The ``client_auth`` methods that send a client assertion (RFC 7523) with each request."""
TLS_AUTHS: frozenset[str] = frozenset({"tls_client_auth", "self_signed_tls_client_auth"})
"""The ``client_auth`` methods that authenticate the client by its TLS certificate."""
AUTH_METHODS: dict[str, str] = {
    "none": "none",
    "basic": "client_secret_basic",
    "body": "client_secret_post",
    "private_key_jwt": "private_key_jwt",
    "client_secret_jwt": "client_secret_jwt",
    "tls_client_auth": "tls_client_auth",
    "self_signed_tls_client_auth": "self_signed_tls_client_auth",
}
"""Each ``client_auth`` by its name in RFC 8414 metadata (``token_endpoint_auth_methods``)."""
_BASE_URL = re.compile(r"^https?://[^/\s?#]+[^\s]*$")
# A cookie name: an RFC 6265 token (no separators, spaces or control characters).
_COOKIE_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_NAME = _COOKIE_NAME  # both are RFC 9110 tokens
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Headers the tester writes itself, which a header sent with every request must not replace.
_OWN_HEADERS = frozenset(
    {"authorization", "connection", "content-length", "content-type", "cookie", "host",
     "keep-alive", "te", "transfer-encoding", "upgrade"}
)  # fmt: skip
PositiveInt = Annotated[int, Meta(ge=1)]
NonNegative = Annotated[float, Meta(ge=0)]
Positive = Annotated[float, Meta(gt=0)]


class _Strict(Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base for every scenario table: unknown keys are errors, not typos to ignore."""


def joinable(value: str) -> bool:
    """True when ``value`` joined to an http(s) base URL is an http(s) URL: a path, or one.

    Why: an endpoint such as ``ftp://host/token`` or ``localhost:8000/token`` (a scheme of
    ``localhost``) passes as a string, and would fail only mid-run, as the tester's fault.

    >>> [joinable(v) for v in ("/o/token/", "token", "https://h/t", "ftp://h/t", "a b")]
    [True, True, True, False, False]
    """
    if not value or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    return not parts.scheme or (parts.scheme in ("http", "https") and bool(parts.netloc))


def _not_joinable(fields: dict[str, str | None]) -> str | None:
    """The first field whose value cannot be joined to the base URL, as an error message."""
    for name, value in fields.items():
        if value is not None and not joinable(value):
            return f"{name} {value!r}: expected a path or an http(s) URL, without spaces"
    return None


def _strings(node: Any) -> Iterator[str]:
    """Every string value in a JSON-like value (where placeholders are filled: not keys)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict | list):
        for value in node.values() if isinstance(node, dict) else node:
            yield from _strings(value)


HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
"""The methods a request template may use."""


class RequestSpec(_Strict, frozen=True):
    """One HTTP request template for custom APIs.

    Strings in ``form``, ``json`` and ``headers`` may hold placeholders: ``{refresh_token}``,
    ``{access_token}``, ``{username}``, ``{password}``, ``{n}`` (session number), and ``{csrf}``
    (the CSRF value issued with the refresh token presented: ``target.csrf_cookie``'s or
    ``target.csrf_token_path``'s)
    """

    path: str
    method: HttpMethod = "POST"
    form: dict[str, str] | None = None
    json: dict[str, Any] | None = None
    headers: dict[str, str] = {}

    def __post_init__(self) -> None:
        problem = _not_joinable({"path": self.path})
        if problem is not None:
            raise ValueError(problem)

    def uses(self, placeholder: str) -> bool:
        """Whether ``{placeholder}`` is in the path or any string of the body or headers."""
        mark = "{" + placeholder + "}"
        return mark in self.path or any(
            mark in text for text in _strings([self.form, self.json, self.headers])
        )


class TargetSpec(_Strict, frozen=True):
    """How to talk to the target: its kind, endpoints and where tokens live.

    ``oauth2``: RFC 6749 token endpoint (form-encoded), endpoints discovered through RFC 8414 or
    OpenID discovery unless given. ``json``: custom JSON endpoints described by request templates
    and response field paths. ``cookie``: like ``json`` but the refresh token travels in the
    cookie named ``refresh_cookie`` (and the access token in the body at ``access_token_path``, or
    in the cookie named ``access_cookie``, which ``use`` then sends as a cookie).
    ``refresh_cookie_path`` is the path the server sets that cookie for (its ``Path``, or the
    directory of the login's path without one): as a browser, a request to a path outside it
    goes without the cookie, so a logout elsewhere is sent as the browser sends it.

    ``csrf_cookie`` names the cookie of a double-submit CSRF defence (``XSRF-TOKEN``,
    ``csrftoken``, flask-jwt-extended's ``csrf_refresh_token``): its value is read from the
    ``Set-Cookie`` that came with each refresh token, and refreshes and logouts presenting that
    token send it back as the cookie and wherever their templates put ``{csrf}`` (a header such
    as ``X-CSRF-Token``). It is paired with the token, not the session's latest, because some
    servers bind it to the token: an older token presented with a newer value would be refused
    for CSRF, and the refusal misread as reuse detection. ``csrf_token_path`` is the same for a
    value the API answers in its JSON body (a synchronizer token), which is sent back only where
    ``{csrf}`` is. ``csrf_preflight`` is a path each session GETs before its login when the
    login itself wants the value (Django's, Spring Security's and Laravel's login forms);
    with ``csrf_preflight_after_login`` it is fetched again after the login too, for servers
    that replace the session's value at login and hand the new one out only there (Spring
    Security does).

    ``session_cookies`` names the cookies the server sets for the session beside its tokens (an
    ``express-session`` or ``laravel_session`` id, csurf's ``_csrf`` secret, a device id): each
    session keeps the value the server last set for each (from the preflight, the login or any
    later answer; a cookie cleared is dropped) and sends them with every request after, as a
    browser does for all the tabs of one user.

    ``headers`` go with every request to the target, discovery included: what a gateway in
    front of it wants (Supabase's ``apikey``, an ``x-api-key``, a client version). Each of
    ``headers_env`` is the same, with its value read from the environment variable it names,
    for a key that must stay out of the file.
    """

    kind: Literal["oauth2", "json", "cookie"]
    base_url: str | None = None
    # oauth2
    discovery: bool = True
    token_endpoint: str | None = None
    revocation_endpoint: str | None = None
    jwks_uri: str | None = None
    client_id: str | None = None
    client_secret_env: str | None = None
    client_auth: ClientAuth = "none"
    # private_key_jwt: the variable holding the client's private key (PEM), the key's id in the
    # client's JWKS, and the assertion's audience when it is not the token endpoint's URL.
    client_key_env: str | None = None
    client_key_id: str | None = None
    client_assertion_audience: str | None = None
    # Mutual TLS (RFC 8705): the variable holding the client's certificate chain (PEM), and the
    # one holding its private key when the first does not. Presented on every connection.
    client_cert_env: str | None = None
    client_cert_key_env: str | None = None
    # DPoP (RFC 9449): a proof with every token request, DPoP-bound access tokens to the API.
    dpop: bool = False
    scope: str | None = None
    # protected resource for `use` (all kinds): GET with the access token as a Bearer token,
    # or the request `use` describes (a POST, a GraphQL query), with the token where it says
    resource: str | None = None
    use: RequestSpec | None = None
    # json / cookie
    login: RequestSpec | None = None
    refresh: RequestSpec | None = None
    revoke: RequestSpec | None = None
    access_token_path: str = "access_token"
    refresh_token_path: str | None = "refresh_token"
    # Where the login's answer has them, when not where the refresh's has them (a login that
    # answers {user, tokens: {...}} and a refresh that answers the tokens alone).
    login_access_token_path: str | None = None
    login_refresh_token_path: str | None = None
    refresh_cookie: str | None = None
    refresh_cookie_path: str | None = None
    access_cookie: str | None = None
    csrf_cookie: str | None = None
    csrf_token_path: str | None = None
    csrf_preflight: str | None = None
    csrf_preflight_after_login: bool = False
    session_cookies: list[str] = []
    # sent with every request (all kinds): values as written, or read from the variables named
    headers: dict[str, str] = {}
    headers_env: dict[str, str] = {}
    # Non-2xx statuses the target documents for concurrent refreshes (e.g. 409, 429).
    documented_statuses: list[Annotated[int, Meta(ge=100, le=599)]] = []

    def __post_init__(self) -> None:
        if self.base_url is not None and not _BASE_URL.match(self.base_url):
            raise ValueError(
                f"target.base_url {self.base_url!r}: expected an http:// or https:// base URL"
            )
        problem = _not_joinable(
            {
                "target.token_endpoint": self.token_endpoint,
                "target.revocation_endpoint": self.revocation_endpoint,
                "target.jwks_uri": self.jwks_uri,
                "target.resource": self.resource,
                "target.csrf_preflight": self.csrf_preflight,
            }
        )
        if problem is not None:
            raise ValueError(problem)
        if self.kind == "cookie" and not self.refresh_cookie:
            raise ValueError("target.kind = 'cookie' needs target.refresh_cookie (the cookie name)")
        problem = self._cookie_path_problem()
        if problem is not None:
            raise ValueError(problem)
        if self.access_cookie is not None and self.kind != "cookie":
            raise ValueError("target.access_cookie goes with target.kind = 'cookie'")
        if self.kind in ("json", "cookie") and self.refresh is None:
            raise ValueError(f"target.kind = '{self.kind}' needs a [target.refresh] request")
        problem = self._csrf_problem() or self._session_cookie_problem() or self._header_problem()
        if problem is not None:
            raise ValueError(problem)
        problem = self._client_auth_problem()
        if problem is not None:
            raise ValueError(problem)
        if self.dpop and self.kind != "oauth2":
            raise ValueError("target.dpop goes with target.kind = 'oauth2'")
        problem = self._use_problem() or self._login_paths_problem()
        if problem is not None:
            raise ValueError(problem)

    def _login_paths_problem(self) -> str | None:
        """Why the login's own token paths cannot be: on a target whose answers have no paths
        there (an OAuth 2.0 server's are RFC 6749's, a cookie's is its name)."""
        if self.login_access_token_path is not None and (
            self.kind == "oauth2" or self.access_cookie is not None
        ):
            return "target.login_access_token_path goes with an access token in a custom body"
        if self.login_refresh_token_path is not None and self.kind != "json":
            return "target.login_refresh_token_path goes with target.kind = 'json'"
        return None

    def _use_problem(self) -> str | None:
        """Why ``[target.use]`` cannot be: given beside ``resource``, or naming a value a use
        does not know (it has the session's access token only)."""
        if self.use is None:
            return None
        if self.resource is not None:
            return "target.resource and [target.use] name the protected API twice: keep one"
        for name in ("refresh_token", "username", "password", "n", "csrf"):
            if self.use.uses(name):
                return (
                    f"[target.use]: {{{name}}} is not known to a use; it may hold "
                    "{access_token} (without it the token goes as the default use sends it)"
                )
        return None

    def _client_auth_problem(self) -> str | None:
        """Why the client cannot authenticate as ``client_auth`` says: a credential it needs is
        missing, or one is given that it does not use."""
        auth = self.client_auth
        if self.client_secret_env is not None and auth not in _SECRET_AUTHS:
            return f"target.client_secret_env is set but target.client_auth is '{auth}'"
        if auth == "client_secret_jwt" and self.client_secret_env is None:
            return "target.client_auth = 'client_secret_jwt' needs target.client_secret_env"
        if auth == "private_key_jwt" and self.client_key_env is None:
            return "target.client_auth = 'private_key_jwt' needs target.client_key_env"
        for name, value in (("client_key_env", self.client_key_env),
                            ("client_key_id", self.client_key_id)):  # fmt: skip
            if value is not None and auth != "private_key_jwt":
                return f"target.{name} goes with target.client_auth = 'private_key_jwt'"
        if auth in TLS_AUTHS and self.client_cert_env is None:
            return f"target.client_auth = '{auth}' needs target.client_cert_env"
        if self.client_cert_key_env is not None and self.client_cert_env is None:
            return "target.client_cert_key_env goes with target.client_cert_env"
        plain = self.base_url is not None and not self.base_url.startswith("https://")
        if self.client_cert_env is not None and plain:
            return (
                "target.client_cert_env: a client certificate is presented over TLS only, "
                f"and target.base_url {self.base_url!r} is not https"
            )
        asserted = auth in ASSERTED_AUTHS
        if self.client_assertion_audience is not None and not asserted:
            return (
                "target.client_assertion_audience goes with target.client_auth = "
                "'private_key_jwt' or 'client_secret_jwt'"
            )
        return None

    def _cookie_path_problem(self) -> str | None:
        """Why ``refresh_cookie_path`` cannot be: not a path, without a cookie, or one that a
        browser would not send to the refresh itself (then no refresh could work)."""
        path = self.refresh_cookie_path
        if path is None:
            return None
        if self.kind != "cookie":
            return "target.refresh_cookie_path goes with target.kind = 'cookie'"
        if not path.startswith("/"):
            return f"target.refresh_cookie_path {path!r}: expected a path starting with '/'"
        refresh = self.refresh.path.partition("?")[0] if self.refresh is not None else ""
        if refresh.startswith("/") and not path_matches(refresh, path):
            return (
                f"target.refresh_cookie_path {path!r}: a browser does not send the cookie "
                f"{self.refresh_cookie} to the refresh at {refresh}, so no refresh could present it"
            )
        return None

    def _session_cookie_problem(self) -> str | None:
        """Why ``session_cookies`` cannot be kept as named: not a cookie name, a name twice, or
        one that already carries a token or the CSRF value, which have their own handling."""
        owned = {
            name: field
            for field, name in (("refresh_cookie", self.refresh_cookie),
                                ("access_cookie", self.access_cookie),
                                ("csrf_cookie", self.csrf_cookie))
            if name is not None
        }  # fmt: skip
        seen: set[str] = set()
        for name in self.session_cookies:
            if not _COOKIE_NAME.fullmatch(name):
                return (
                    f"target.session_cookies: {name!r} is not a cookie name (letters, digits "
                    "and !#$%&'*+-.^_`|~ only)"
                )
            if name in owned:
                return (
                    f"target.session_cookies: {name!r} is target.{owned[name]}; name only the "
                    "other cookies the server sets"
                )
            if name in seen:
                return f"target.session_cookies: {name!r} is named twice"
            seen.add(name)
        return None

    def _header_problem(self) -> str | None:
        """Why ``headers`` and ``headers_env`` cannot be sent as given: not a header name, one
        the tester writes itself, one named twice (in both tables, or in a request template),
        a value that would break the request, or not a variable's name."""
        templated = {
            name.lower(): table
            for table, spec in (("login", self.login), ("refresh", self.refresh),
                                ("revoke", self.revoke))
            if spec is not None
            for name in spec.headers
        }  # fmt: skip
        seen: set[str] = set()
        for table, given in (("headers", self.headers), ("headers_env", self.headers_env)):
            for name, value in given.items():
                where, key = f"target.{table}", name.lower()
                if not _HEADER_NAME.fullmatch(name):
                    return f"{where}: {name!r} is not a header name"
                if key in _OWN_HEADERS:
                    return (
                        f"{where}: {name!r} is written by auth-stress itself (the tokens, the "
                        "cookies and the body's framing); it cannot be sent with every request"
                    )
                if key in seen:
                    twice = key in {other.lower() for other in given if other != name}
                    again = "named twice" if twice else "in target.headers too"
                    return f"{where}: {name!r} is {again}; set it once"
                if key in templated:
                    return (
                        f"{where}: {name!r} is in [target.{templated[key]}] headers too; set it "
                        "in one place"
                    )
                seen.add(key)
                if table == "headers" and re.search(r"[\x00-\x1f\x7f]", value):
                    return f"{where}.{name}: control characters (a line break?) in its value"
                if table == "headers_env" and not _ENV_NAME.fullmatch(value):
                    return f"{where}.{name}: {value!r} is not an environment variable name"
        return None

    def _csrf_problem(self) -> str | None:
        """Why ``csrf_cookie`` and the ``{csrf}`` placeholder do not go together, if they
        do not: a value read and never sent, or a placeholder nothing fills, is a typo."""
        templates = {"target.refresh": self.refresh, "target.revoke": self.revoke}
        if self.csrf_preflight is not None:  # the login gets the preflight's value
            templates["target.login"] = self.login
        using = [name for name, spec in templates.items() if spec is not None and spec.uses("csrf")]
        sources = [
            f"target.{name}"
            for name, value in (("csrf_cookie", self.csrf_cookie),
                                ("csrf_token_path", self.csrf_token_path))
            if value is not None
        ]  # fmt: skip
        if self.login is not None and self.login.uses("csrf") and self.csrf_preflight is None:
            return (
                "target.login: {csrf} is not known before the login (it comes with a token): "
                "set target.csrf_preflight to the path that hands it out"
            )
        if self.csrf_preflight_after_login and self.csrf_preflight is None:
            return "target.csrf_preflight_after_login: set target.csrf_preflight, the path to GET"
        if self.csrf_preflight is not None and not sources:
            return (
                "target.csrf_preflight: say where its answer holds the value "
                "(target.csrf_cookie or target.csrf_token_path)"
            )
        if len(sources) > 1:
            return f"{' and '.join(sources)}: the CSRF value comes from one place, not two"
        if not sources and using:
            return (
                f"{using[0]}: {{csrf}} needs target.csrf_cookie (the CSRF cookie's name) or "
                "target.csrf_token_path (where the answer's JSON holds it)"
            )
        if sources and not using:
            return (
                f"{sources[0]}: no request template sends {{csrf}} back "
                '(for example headers = { X-CSRF-Token = "{csrf}" })'
            )
        return None


class AuthSpec(_Strict, frozen=True):
    """How each session gets its first token pair.

    ``password``: the OAuth 2.0 password grant (or the ``target.login`` request for custom APIs)
    with ``username`` formatted per session (``user{n}``). ``mint``: run ``command`` (``{n}``
    substituted) which prints a JSON object with ``access_token`` and ``refresh_token``.
    """

    mode: Literal["password", "mint"] = "password"
    username: str = "user{n}"
    password: str | None = None
    password_env: str | None = None
    command: list[str] | None = None

    def __post_init__(self) -> None:
        if self.mode == "mint" and not self.command:
            raise ValueError("auth.mode = 'mint' needs auth.command (argv list)")
        if self.mode == "password" and self.password is None and self.password_env is None:
            raise ValueError("auth.mode = 'password' needs auth.password or auth.password_env")


class PolicySpec(_Strict, frozen=True):
    """What the target promises under concurrent reuse: a preset and/or explicit fields.

    See :mod:`stress.policy` for the meaning of each field; ``auth-stress policy`` measures them.
    """

    kind: PresetName | None = None
    grace_seconds: NonNegative | None = None
    replay: Replay | None = None
    generations: Annotated[int, Meta(ge=0, le=100)] | None = None
    reuse_revokes: ReuseScope | None = None
    tolerance_seconds: NonNegative | None = None
    refresh_revokes_access: bool = False
    use_retires: bool = False
    max_replays: Annotated[int, Meta(ge=0, le=1000)] = 0
    relax: list[Invariant] = []

    def __post_init__(self) -> None:
        self.model()  # raises ValueError naming the contradicting field

    def model(self) -> Policy:
        """The explicit policy the checkers judge against."""
        return resolve_policy(
            self.kind,
            grace_seconds=self.grace_seconds,
            replay=self.replay,
            generations=self.generations,
            reuse_revokes=self.reuse_revokes,
            tolerance_seconds=self.tolerance_seconds,
            refresh_revokes_access=self.refresh_revokes_access,
            use_retires=self.use_retires,
            max_replays=self.max_replays,
            relax=tuple(dict.fromkeys(self.relax)),
        )


class ThresholdSpec(_Strict, frozen=True):
    p50_ms: Positive | None = None
    p95_ms: Positive | None = None
    p99_ms: Positive | None = None
    max_error_rate: Annotated[float, Meta(ge=0, le=1)] | None = None


class LoginStep(_Strict, frozen=True, tag_field="op", tag="login"):
    """Log the session in (first pair), starting a new token family."""


class RefreshStep(_Strict, frozen=True, tag_field="op", tag="refresh"):
    """``parallel`` callers need a refresh of the session's token at the same moment.

    ``profile`` says how a real client turns those callers into requests
    (see :data:`ClientProfile`); the requests go out as one burst with the ``sync`` engine.
    ``revoke = true`` adds one more request to the burst that revokes the family (a logout
    racing the refreshes).
    """

    parallel: Annotated[int, Meta(ge=1, le=1024)] = 1
    profile: ClientProfile = "naive-parallel"
    tabs: Annotated[int, Meta(ge=1, le=1024)] = 1
    sync: SyncEngineName = "auto"
    revoke: bool = False

    def __post_init__(self) -> None:
        if self.tabs > 1 and self.profile != "single-flight":
            raise ValueError("refresh.tabs only applies to profile 'single-flight'")
        if self.tabs > self.parallel:
            raise ValueError("refresh.tabs cannot exceed refresh.parallel (callers)")
        if self.profile == "lost-response-retry" and (self.parallel != 1 or self.revoke):
            raise ValueError(
                "profile 'lost-response-retry' is one request and its retry: "
                "parallel must be 1 and revoke false"
            )


class ReplayStep(_Strict, frozen=True, tag_field="op", tag="replay"):
    """Present an older refresh token: ``age = 1`` is the immediate predecessor."""

    age: PositiveInt = 1
    parallel: Annotated[int, Meta(ge=1, le=1024)] = 1
    sync: SyncEngineName = "auto"


class UseStep(_Strict, frozen=True, tag_field="op", tag="use"):
    """Call the protected resource with the session's current access token."""


class RevokeStep(_Strict, frozen=True, tag_field="op", tag="revoke"):
    """Revoke the session's current refresh token (its family), as a logout does."""


class SleepStep(_Strict, frozen=True, tag_field="op", tag="sleep"):
    seconds: Annotated[float, Meta(ge=0, le=3600)]


class ProbeStep(_Strict, frozen=True, tag_field="op", tag="probe"):
    """Refresh the session's current token to see whether its family is still alive."""


class LoadStep(_Strict, frozen=True, tag_field="op", tag="load"):
    """Sustained traffic: refresh/use cycles for ``duration_seconds``.

    Without ``rate`` every session loops back to back (closed model, ``think_seconds`` apart);
    with ``rate`` operations arrive at that many per second across all sessions (open model),
    whether or not earlier ones have finished. ``mix`` weighs the operation kinds.
    """

    duration_seconds: Annotated[float, Meta(gt=0, le=86_400)]
    rate: Annotated[float, Meta(gt=0, le=1_000_000)] | None = None
    think_seconds: Annotated[float, Meta(ge=0, le=3600)] = 0.0
    mix: dict[Literal["refresh", "use"], Annotated[int, Meta(ge=0)]] = msgspec.field(
        default_factory=lambda: {"refresh": 1, "use": 1}
    )

    def __post_init__(self) -> None:
        if not any(self.mix.values()):
            raise ValueError("load.mix needs at least one operation kind with a weight above 0")


Step = (
    LoginStep | RefreshStep | ReplayStep | UseStep | RevokeStep | SleepStep | ProbeStep | LoadStep
)


class RunSpec(_Strict, frozen=True):
    """Size and bounds of a run: every run is bounded in op count and wall time."""

    sessions: Annotated[int, Meta(ge=1, le=100_000)] = 1
    concurrency: Annotated[int, Meta(ge=1, le=10_000)] | None = None
    rounds: Annotated[int, Meta(ge=1, le=100_000)] = 1
    op_timeout_seconds: Annotated[float, Meta(gt=0, le=600)] = 10.0
    max_ops: Annotated[int, Meta(ge=1, le=10_000_000)] = 100_000
    max_seconds: Annotated[float, Meta(gt=0, le=86_400)] = 300.0
    seed: int = 0
    probe_at_end: bool = True
    # Final probes in flight at once across sessions (each session probes its leaves in turn).
    probe_concurrency: Annotated[int, Meta(ge=1, le=1024)] = 16
    max_info_ratio: Annotated[float, Meta(ge=0, le=1)] = 0.5
    # A refresh answered 429/503 with Retry-After is retried with the same token after the
    # wait, as a well-behaved client does, up to max_retries times; waits longer than
    # retry_after_max_seconds are not honoured (0 turns retrying off).
    retry_after_max_seconds: Annotated[float, Meta(ge=0, le=600)] = 10.0
    max_retries: Annotated[int, Meta(ge=0, le=10)] = 2


class Scenario(_Strict, frozen=True):
    name: str
    target: TargetSpec
    auth: AuthSpec
    policy: PolicySpec
    steps: Annotated[list[Step], Meta(min_length=1)]
    description: str = ""
    run: RunSpec = RunSpec()
    thresholds: dict[OpKind, ThresholdSpec] = {}

    def __post_init__(self) -> None:
        kinds = {type(step) for step in self.steps}
        if kinds & {RefreshStep, ReplayStep, UseStep, RevokeStep, ProbeStep, LoadStep} and (
            type(self.steps[0]) is not LoginStep
        ):
            raise ValueError("steps: the first step must be {op = 'login'} (sessions need a pair)")
        uses_resource = UseStep in kinds or any(
            isinstance(step, LoadStep) and step.mix.get("use") for step in self.steps
        )
        if uses_resource and self.target.resource is None and self.target.use is None:
            raise ValueError(
                "steps use op = 'use' but target.resource (protected API) is not set "
                "(nor [target.use])"
            )
        auth = self.target.client_auth
        if auth in ASSERTED_AUTHS | TLS_AUTHS and not self.target.client_id:
            # Checked here, not with the target: init settles the client id after its auth.
            which = "the assertion's issuer" if auth in ASSERTED_AUTHS else "sent with each request"
            raise ValueError(f"target.client_auth = '{auth}' needs target.client_id ({which})")
        custom = self.target.kind != "oauth2"
        if custom and self.auth.mode == "password" and self.target.login is None:
            raise ValueError(
                f"target.kind = '{self.target.kind}' with auth.mode = 'password' needs a "
                "[target.login] request (or auth.mode = 'mint' with auth.command)"
            )
        revokes = RevokeStep in kinds or any(
            isinstance(step, RefreshStep) and step.revoke for step in self.steps
        )
        if custom and revokes and self.target.revoke is None:
            raise ValueError(
                f"steps revoke tokens but target.kind = '{self.target.kind}' has no "
                "[target.revoke] request"
            )

    def secret_env_vars(self) -> list[str]:
        """The environment variables holding secrets that a run of this scenario reads."""
        target = self.target
        names = [self.auth.password_env, target.client_secret_env, target.client_key_env]
        names += [target.client_cert_env, target.client_cert_key_env]
        return [name for name in names if name is not None] + list(self.target.headers_env.values())

    def request_kinds(self) -> frozenset[str]:
        """The kinds of request the steps send (login, refresh, probe, use, revoke)."""
        kinds = {"refresh", "probe"}
        if self.auth.mode == "password":
            kinds.add("login")
        for step in self.steps:
            if isinstance(step, UseStep) or (isinstance(step, LoadStep) and step.mix.get("use")):
                kinds.add("use")
            if isinstance(step, RevokeStep) or (isinstance(step, RefreshStep) and step.revoke):
                kinds.add("revoke")
        return frozenset(kinds)


def parse_scenario(data: dict[str, Any], source: str) -> Scenario:
    """Validate an already-parsed TOML document; ``source`` names it in errors."""
    try:
        return msgspec.convert(data, type=Scenario, strict=True)
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"{source}: {explain(exc, Scenario, data)}") from exc


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ScenarioError(f"{path}: no such scenario file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from exc
    return parse_scenario(data, str(path))
