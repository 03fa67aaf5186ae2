"""Learn how a custom JSON or cookie API carries its tokens, from one login, one refresh and,
when the person names one, one logout.

Why: an OAuth 2.0 server describes itself (RFC 8414), a custom API does not, and writing its
``[target]`` by hand means knowing which field holds which token, which body the login wants
and whether the refresh token travels in a cookie. Most such APIs follow a few conventions, so
``auth-stress init`` logs one test user in and looks: the login body is tried as JSON
``{"username", "password"}``, then ``{"email", "password"}``, then form-encoded (FastAPI's
OAuth2 form), unless one is given; the tokens
are looked for under the usual names (``access_token``, ``accessToken``, ``access``, ``token``;
``refresh_token``, ``refreshToken``, ``refresh``), at the top of the response or one or two
objects down (``data.accessToken``, GraphQL's ``data.login.accessToken``), the shallowest
first; a refresh token that is in no field but in a cookie the login set makes a ``cookie``
target, whose access token may be a cookie too (one named like ``access_token``).
The refresh is then tried the same way (the token under its own field name, else as a Bearer
token, else form-encoded; or the cookie), as a POST and, where there is no such POST route,
as a GET, so what is written is known to work. A login that sets a CSRF cookie (named like
``XSRF-TOKEN``, ``csrftoken`` or ``csrf_refresh_token``) may guard the refresh with a double
submit, and one that answers a ``csrfToken`` with a synchronizer token: a refresh refused
without it is tried again with the value in the header the usual frameworks read
(``X-CSRF-Token``, ``X-XSRF-TOKEN``, ``X-CSRFToken``), and a cookie's sent back too; a login that
wants the value itself gets it from the preflight GET the person names, tried the same way.
The session's other cookies go back as a browser would send them: every one the preflight set
(but the CSRF value's own), and the login's when the refresh is refused without them (an
express-session id). A logout is tried as the refresh was learnt, then with the access token as
a Bearer header beside or alone, as a POST and, where that route or method is not there, as a
DELETE, and the refresh token it was sent is refreshed again to see whether it revoked it.
Tokens stay in memory: nothing here logs or returns one.

Usage::

    shape = await probe_custom_api(http, base, CustomPaths("/auth/login", "/auth/refresh"),
                                   username="user0@example.com", password=secret)
    shape.target_fields()   # the scenario's [target] fields beyond kind and base_url
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urljoin

import httpx

from stress.errors import TargetError
from stress.set_cookie import cookie_path, cookies_set, sent_to
from stress.target import acted_on, browser_origin, fill_placeholders, json_path

__all__ = ["CustomPaths", "CustomShape", "Encoding", "Presented", "probe_custom_api"]

Encoding = Literal["json", "form"]
"""How a login body is sent: as JSON, or form-encoded."""

Presented = Literal["body", "bearer", "both", "body-and-access", "form", "cookie", "given"]
"""How a refresh presents the refresh token: ``body`` under the login's field name; ``bearer`` as
an Authorization header; ``both`` tokens in the body (a common ASP.NET pattern); the body with
the access token as a Bearer header (``body-and-access``); a ``form``-encoded body under the
login's field name (a FastAPI ``Form`` field); the ``cookie`` alone; or in the body the person
``given`` (``--refresh-json``)."""

RevokeWay = Literal["as-refresh", "with-access", "access"]
"""How a logout presents the session: as the refresh does; as the refresh does with the access
token as a Bearer header beside (a logout guarded like any authenticated route: NestJS's, Laravel
Sanctum's); or by that Bearer header alone (Supabase Auth's ``/logout``)."""

CsrfSource = tuple[Literal["cookie", "body"], str]
"""Where a login's CSRF value is: a cookie's name, or a path into its JSON answer."""

ACCESS_NAMES = ("access_token", "accessToken", "access", "token")
REFRESH_NAMES = ("refresh_token", "refreshToken", "refresh")
CSRF_NAMES = ("csrfToken", "csrf_token", "csrf", "xsrfToken", "xsrf_token", "_csrf")
# A preflight hands out nothing but the value: a plain `token` is it there (csrf-sync's README
# answers `{ token }`, Spring Security's CsrfToken `{token, headerName, parameterName}`).
PREFLIGHT_NAMES = (*CSRF_NAMES, "token")
LOGIN_BODIES: tuple[tuple[Encoding, dict[str, str]], ...] = (
    ("json", {"username": "{username}", "password": "{password}"}),
    ("json", {"email": "{username}", "password": "{password}"}),
    ("form", {"username": "{username}", "password": "{password}"}),  # FastAPI's OAuth2 form
)
_SHOWN = 200  # characters of an unexpected answer quoted in an error
_DEPTH = 2  # objects down that tokens are looked for
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
# The ways a JSON API's refresh may want its token, tried in this order (see Presented).
_BODY_WAYS: tuple[Presented, ...] = ("body", "bearer", "both", "body-and-access", "form")
_BODIES = frozenset({"json", "form"})  # the template fields that make a request carry a body
# A logout's methods, each tried when the one before says the route or method is not there
# (404, 405): a form's POST, a Rails ``sign_out``'s DELETE, an Express ``router.get("/logout")``.
_LOGOUT_METHODS: tuple[Literal["POST", "DELETE", "GET"], ...] = ("POST", "DELETE", "GET")
# The headers a double-submit CSRF value is read from: flask-jwt-extended's (and Rails'),
# Angular's (which Spring Security and Laravel follow), Django's.
CSRF_HEADERS = ("X-CSRF-Token", "X-XSRF-TOKEN", "X-CSRFToken")


@dataclass(frozen=True)
class CustomPaths:
    """What a person says of a custom API: its paths, and what the probe should not guess."""

    login: str
    refresh: str
    revoke: str | None = None
    login_json: dict[str, Any] | None = None
    refresh_cookie: str | None = None
    csrf_preflight: str | None = None
    # The refresh's and the logout's bodies where no usual one fits (a GraphQL mutation).
    refresh_json: dict[str, Any] | None = None
    revoke_json: dict[str, Any] | None = None


@dataclass(frozen=True)
class CustomShape:
    """Where a custom API's tokens are, as the probe found them (and tried them)."""

    kind: Literal["json", "cookie"]
    paths: CustomPaths
    login_body: tuple[Encoding, dict[str, Any]]
    access_token_path: str
    refresh_token_path: str | None
    refresh_cookie: str | None
    presented: Presented = "body"
    # The path the login set the refresh cookie for, when a browser sends it to part of the
    # site only (not "/"): requests elsewhere go without it (target.refresh_cookie_path).
    refresh_cookie_path: str | None = None
    access_cookie: str | None = None
    # A CSRF defence: the cookie (a double submit) or the answer's field (a synchronizer
    # token) its value comes in, and the header it goes back in (with the refresh, and with
    # the login when a preflight hands it out).
    csrf_cookie: str | None = None
    csrf_header: str | None = None
    csrf_token_path: str | None = None
    login_csrf_header: str | None = None
    # The other cookies the session must send back (target.session_cookies): those the
    # preflight set, and the login's when the refresh was refused without them.
    session_cookies: tuple[str, ...] = ()
    # The login replaced the session's CSRF value: the preflight is fetched again after it.
    csrf_after_login: bool = False
    # The logout: how it presents the session, its method, and whether the refresh token it
    # was sent still refreshed after it answered (it revoked nothing on the server).
    revoke_way: RevokeWay = "as-refresh"
    revoke_method: Literal["POST", "DELETE", "GET"] = "POST"
    logout_kept_refresh: bool = False
    # A refresh that is a GET route (the refresh token in a cookie or a Bearer header).
    refresh_method: Literal["POST", "GET"] = "POST"
    # Where the login's answer has the tokens, when the refresh's has them elsewhere (the
    # paths above are then the refresh's).
    login_access_token_path: str | None = None
    login_refresh_token_path: str | None = None

    def sends_refresh_cookie(self, url: str) -> bool:
        """Whether a browser sends the refresh cookie with a request to ``url``."""
        return sent_to(url, self.refresh_cookie_path)

    def unsent_note(self, url: str) -> str:
        """`` (a browser sends it no rt cookie, ...)`` when a browser sends the refresh cookie
        no request to ``url``, else nothing: what the messages about such a request add."""
        if self.sends_refresh_cookie(url):
            return ""
        return (
            f" (a browser sends it no {self.refresh_cookie} cookie, which is set for "
            f"{self.refresh_cookie_path} only)"
        )

    @property
    def csrf_sent_as(self) -> str | None:
        """The header a CSRF value goes back in: the refresh's, else the login's."""
        return self.csrf_header or self.login_csrf_header

    def presentation(self) -> dict[str, Any]:
        """The request fields (``json``, ``headers``) of a refresh or a logout, as templates."""
        fields = self._token_fields()
        if self.csrf_header is not None:
            fields["headers"] = {**fields.get("headers", {}), self.csrf_header: "{csrf}"}
        return fields

    def _token_fields(self) -> dict[str, Any]:
        if self.paths.refresh_json is not None:
            return {"json": self.paths.refresh_json}
        if self.presented == "cookie" or self.refresh_token_path is None:
            return {}
        if self.presented == "bearer":
            return {"headers": {"Authorization": "Bearer {refresh_token}"}}
        # The tokens go back under the names the login gave them, wherever the refresh answers.
        refresh_field = _field(self.login_refresh_token_path or self.refresh_token_path)
        body = {refresh_field: "{refresh_token}"}
        if self.presented == "form":
            return {"form": body}
        if self.presented == "both":
            access_field = _field(self.login_access_token_path or self.access_token_path)
            return {"json": {access_field: "{access_token}", **body}}
        if self.presented == "body-and-access":
            return {"json": body, "headers": {"Authorization": "Bearer {access_token}"}}
        return {"json": body}

    def refresh_fields(self) -> dict[str, Any]:
        """The ``[target.refresh]`` template."""
        fields: dict[str, Any] = {"path": self.paths.refresh, **self.presentation()}
        if self.refresh_method != "POST":
            fields["method"] = self.refresh_method
        return fields

    def target_fields(self) -> dict[str, Any]:
        """The ``[target]`` fields beyond ``kind`` and ``base_url``, in the scenario's names."""
        refresh = self.refresh_fields()
        login: dict[str, Any] = {"path": self.paths.login, self.login_body[0]: self.login_body[1]}
        if self.login_csrf_header is not None:
            login["headers"] = {self.login_csrf_header: "{csrf}"}
        fields: dict[str, Any] = {"login": login, "refresh": refresh}
        if self.paths.csrf_preflight is not None:
            fields["csrf_preflight"] = self.paths.csrf_preflight
        if self.csrf_after_login:
            fields["csrf_preflight_after_login"] = True
        if self.access_cookie is not None:
            fields["access_cookie"] = self.access_cookie
        else:
            fields["access_token_path"] = self.access_token_path
        if self.refresh_token_path is not None:
            fields["refresh_token_path"] = self.refresh_token_path
        if self.login_access_token_path is not None:
            fields["login_access_token_path"] = self.login_access_token_path
        if self.login_refresh_token_path is not None:
            fields["login_refresh_token_path"] = self.login_refresh_token_path
        if self.refresh_cookie is not None:
            fields["refresh_cookie"] = self.refresh_cookie
        if self.refresh_cookie_path is not None:
            fields["refresh_cookie_path"] = self.refresh_cookie_path
        if self.csrf_cookie is not None:
            fields["csrf_cookie"] = self.csrf_cookie
        if self.csrf_token_path is not None:
            fields["csrf_token_path"] = self.csrf_token_path
        if self.session_cookies:
            fields["session_cookies"] = list(self.session_cookies)
        if self.paths.revoke is not None:
            fields["revoke"] = self.revoke_fields()
        return fields

    def revoke_fields(self) -> dict[str, Any]:
        """The ``[target.revoke]`` template: the refresh's presentation, or as ``revoke_way``
        says, with the CSRF value a guarded login implies (a browser's client library sends it
        on every POST)."""
        assert self.paths.revoke is not None  # asked for only when there is a logout
        presented = self.presentation()
        if self.paths.revoke_json is not None:
            csrf = {self.csrf_header: "{csrf}"} if self.csrf_header is not None else {}
            presented = {"json": self.paths.revoke_json, **({"headers": csrf} if csrf else {})}
        bearer = {"Authorization": "Bearer {access_token}"}
        if self.revoke_way == "access":
            csrf = {self.csrf_header: "{csrf}"} if self.csrf_header is not None else {}
            presented = {"headers": {**bearer, **csrf}}
        elif self.revoke_way == "with-access":
            presented = {**presented, "headers": {**presented.get("headers", {}), **bearer}}
        fields: dict[str, Any] = {"path": self.paths.revoke, **presented}
        if self.revoke_method != "POST":
            fields["method"] = self.revoke_method
        if self.login_csrf_header is not None and self.csrf_header is None:
            fields["headers"] = {**fields.get("headers", {}), self.login_csrf_header: "{csrf}"}
        return fields

    def revoke_ways(self) -> tuple[RevokeWay, ...]:
        """The ways a logout may want the session, in the order tried: the refresh's first;
        the access token beside it or alone only where it is a Bearer token that the refresh
        does not already send as its Authorization header."""
        if self.access_cookie is not None or "Authorization" in self.presentation().get(
            "headers", {}
        ):
            return ("as-refresh",)
        if self.paths.revoke_json is not None:
            return ("as-refresh", "with-access")  # the body given, alone or with the access
        alone: tuple[RevokeWay, ...] = ("access",) if self.refresh_cookie is None else ()
        return ("as-refresh", "with-access", *alone)


async def probe_custom_api(
    http: httpx.AsyncClient, base: str, paths: CustomPaths, *, username: str, password: str
) -> CustomShape:
    """Log ``username`` in and refresh once; ``TargetError`` says what did not work and why."""
    secrets = [password]
    handed = None
    jar: dict[str, str] = {}  # every cookie the preflight set: csurf's secret among them
    if paths.csrf_preflight is not None:
        handed, jar = await _handed_out(http, urljoin(base, paths.csrf_preflight), secrets)
        secrets += [found.value for found in handed] + list(jar.values())
    response, (encoding, template), login_csrf = await _logged_in(
        http, base, paths, {"username": username, "password": password}, secrets, (handed, jar)
    )
    document = _json_or_none(response)
    csrf = _csrf_found(response, document)
    taken = {found.source for found in csrf}
    given = _cookies(response)
    cookies = [name for name in given if ("cookie", name) not in taken]
    access = _find(document, ACCESS_NAMES)
    if login_csrf is not None and login_csrf[0].source == ("body", access):
        raise TargetError(
            f"the CSRF preflight answers its value at `{access}`, where the login answers its "
            "access token: a run could not tell the two apart"
        )
    access_cookie = None if access is not None else _access_cookie(cookies)
    if access is None and access_cookie is None:
        raise TargetError(
            f"the login at {paths.login} answered no access token under {', '.join(ACCESS_NAMES)}"
            f" (fields: {_keys(document)}) and set no cookie named like one "
            f"(cookies: {', '.join(cookies) or 'none'})"
        )
    # A cookie named by the person wins: some APIs echo the refresh token in the body as well.
    named = paths.refresh_cookie is not None or access_cookie is not None
    refresh_path = None if named else _find(document, REFRESH_NAMES)
    cookie = None
    if refresh_path is None:
        others = [name for name in cookies if name != access_cookie]
        cookie = _refresh_cookie(others, paths.refresh_cookie, paths.login)
    if login_csrf is not None:
        # One value goes with the session from its preflight on: the login's new one if it
        # set one (Django rotates it at login), else the preflight's.
        csrf = [next((f for f in csrf if f.source == login_csrf[0].source), login_csrf[0])]
    shape = CustomShape(
        kind="json" if cookie is None else "cookie",
        paths=paths,
        login_body=(encoding, template),
        access_token_path=access or "access_token",
        refresh_token_path=refresh_path,
        refresh_cookie=cookie,
        presented="body" if cookie is None else "cookie",
        access_cookie=access_cookie,
    )
    if cookie is not None:
        shape = dataclasses.replace(shape, refresh_cookie_path=_scoped(response, cookie))
        refresh_url = urljoin(base, paths.refresh)
        if not shape.sends_refresh_cookie(refresh_url):
            raise TargetError(
                f"the login at {paths.login} sets the cookie {cookie} for the path "
                f"{shape.refresh_cookie_path} only, and a browser does not send it to the refresh "
                f"at {httpx.URL(refresh_url).path}: no browser could refresh there"
            )
    if _acted_on(response) and cookie is None:
        raise TargetError(
            f"the login at {paths.login} answered a redirect with its tokens in the body: a run "
            "takes a redirect for a login only when it sets the refresh token's cookie"
        )
    if login_csrf is not None:
        shape = dataclasses.replace(_sourced(shape, login_csrf[0]), login_csrf_header=login_csrf[1])
    jar = _beside(jar, login_csrf)
    if jar:
        shape = dataclasses.replace(shape, session_cookies=tuple(jar))
    tokens = {shape.refresh_cookie, shape.access_cookie}
    # The login's own other cookies (an express-session id), sent only if the refresh wants them.
    jar |= {name: given[name] for name in cookies if name not in tokens}
    refetch = None
    if login_csrf is not None and paths.csrf_preflight is not None:
        url, first = urljoin(base, paths.csrf_preflight), csrf[0]

        async def refetch(cookies: dict[str, str]) -> list[_Csrf]:
            """The value the preflight hands out after the login, if it is a new one."""
            return await _handed_again(http, url, cookies, first)

    offered = (csrf, jar)
    return await _refreshed(http, base, shape, (document, response), secrets, offered, refetch)


async def _handed_out(
    http: httpx.AsyncClient, url: str, secrets: list[str]
) -> tuple[list[_Csrf], dict[str, str]]:
    """The CSRF values a preflight GET hands out, and every cookie it sets (the one a value
    is read from among them); ``TargetError`` when it hands out no value."""
    response = await _get(http, url, {})
    document = _json_or_none(response)
    found = _csrf_found(response, document, PREFLIGHT_NAMES) if response.is_success else []
    if not found:
        raise TargetError(
            f"the CSRF preflight GET {url} handed out no value: it set no cookie named like "
            f"csrf or xsrf and answered no field named like {CSRF_NAMES[0]} "
            f"({_said(response, secrets)})"
        )
    return found, _cookies(response)


async def _handed_again(
    http: httpx.AsyncClient, url: str, cookies: dict[str, str], before: _Csrf
) -> list[_Csrf]:
    """The value a second preflight GET, sent with the session's ``cookies``, hands out where
    ``before`` was, when it is another one (Spring Security replaces it at login)."""
    response = await _get(http, url, _with_cookies({}, [], cookies))
    if not response.is_success:
        return []
    found = _csrf_found(response, _json_or_none(response), PREFLIGHT_NAMES)
    same = next((f for f in found if f.source == before.source), None)
    return (
        [dataclasses.replace(before, value=same.value)]
        if same and same.value != before.value
        else []
    )


async def _logged_in(
    http: httpx.AsyncClient,
    base: str,
    paths: CustomPaths,
    values: dict[str, str],
    secrets: list[str],
    preflight: tuple[list[_Csrf] | None, dict[str, str]],
) -> tuple[httpx.Response, tuple[Encoding, dict[str, Any]], tuple[_Csrf, str] | None]:
    """The first login body the API takes, with a 2xx or with a 302 or 303 that sets cookies (a
    form login's Post/Redirect/Get): its answer, the body, and the CSRF value and header it
    went with; with values ``handed`` out by a preflight, each body goes with each value in
    each of :data:`CSRF_HEADERS`, and with the other cookies the preflight set."""
    handed, jar = preflight
    given = paths.login_json
    bodies: tuple[tuple[Encoding, dict[str, Any]], ...] = (
        (("json", given),) if given is not None else LOGIN_BODIES
    )
    attempts: list[tuple[Encoding, dict[str, Any], tuple[_Csrf, str] | None]] = [
        (encoding, template, None) for encoding, template in bodies
    ]
    if handed is not None:
        attempts = [
            (encoding, template, (found, header))
            for encoding, template in bodies
            for found in handed
            for header in _headers_for(found)
        ]
    answers: list[str] = []
    url = urljoin(base, paths.login)
    for encoding, template, csrf in attempts:
        body = fill_placeholders(template, values)
        headers = _with_cookies(
            _csrf_sent(*csrf) if csrf is not None else {}, [], _beside(jar, csrf)
        )
        response = await (
            _post(http, url, body, headers)
            if encoding == "json"
            else _post_form(http, url, body, headers)
        )
        if response.is_success or (_acted_on(response) and _cookies(response)):
            return response, (encoding, template), csrf
        with_csrf = f" with {csrf[0].source[1]} as {csrf[1]}" if csrf is not None else ""
        answers.append(f"{encoding} {_fields(template)}{with_csrf}: {_said(response, secrets)}")
    hint = "" if paths.login_json is not None else "; pass --login-json with the body it wants"
    raise TargetError(
        f"the login at {paths.login} refused every body tried ({'; '.join(answers)})" + hint
    )


@dataclass(frozen=True)
class _Csrf:
    """A CSRF value an answer gave, and where: a cookie's name or a path into its JSON."""

    source: CsrfSource
    value: str
    header: str | None = None  # the header the answer names for it (Spring's `headerName`)


def _csrf_found(
    response: httpx.Response, document: Any, names: tuple[str, ...] = CSRF_NAMES
) -> list[_Csrf]:
    """The CSRF values an answer gives: its cookies named like one (one that goes with the
    refresh token first), then a field of its JSON under one of ``names``."""
    given = _cookies(response)
    found = [_Csrf(("cookie", name), given[name]) for name in _csrf_cookies(list(given))]
    in_body = _find(document, names)
    if in_body is not None:
        named = document.get("headerName") if isinstance(document, dict) else None
        header = named if isinstance(named, str) and _HEADER_NAME.fullmatch(named) else None
        found.append(_Csrf(("body", in_body), str(json_path(document, in_body)), header))
    return found


def _headers_for(found: _Csrf) -> tuple[str, ...]:
    """The headers to try ``found`` in: the one its answer named first, if it named one."""
    usual = _csrf_headers(found.source[1])
    if found.header is None:
        return usual
    return (found.header, *(h for h in usual if h.lower() != found.header.lower()))


def _csrf_sent(found: _Csrf, header: str) -> dict[str, str]:
    """The headers that send ``found`` back: in ``header``, and as its cookie if it is one."""
    kind, where = found.source
    sent = {header: found.value}
    if kind == "cookie":
        sent["cookie"] = f"{where}={found.value}"
    return sent


def _beside(jar: dict[str, str], csrf: tuple[_Csrf, str] | None) -> dict[str, str]:
    """The preflight's cookies that go beside a CSRF value: all but the value's own cookie
    (sent as such), so csurf's secret goes with the value derived from it."""
    own = csrf[0].source if csrf is not None else None
    return {name: value for name, value in jar.items() if ("cookie", name) != own}


def _with_cookies(headers: dict[str, str], sent: list[str], jar: dict[str, str]) -> dict[str, str]:
    """``headers`` with the ``sent`` cookie pairs and the ``jar`` joined into its cookie
    header (after one it has already)."""
    pairs = [headers["cookie"]] if "cookie" in headers else []
    pairs += sent + [f"{name}={value}" for name, value in jar.items()]
    return {**headers, "cookie": "; ".join(pairs)} if pairs else headers


def _sourced(shape: CustomShape, found: _Csrf) -> CustomShape:
    """``shape`` reading its CSRF value where ``found`` was."""
    kind, where = found.source
    return dataclasses.replace(
        shape,
        csrf_cookie=where if kind == "cookie" else None,
        csrf_token_path=where if kind == "body" else None,
    )


async def _refreshed(
    http: httpx.AsyncClient,
    base: str,
    shape: CustomShape,
    login: tuple[Any, httpx.Response],
    secrets: list[str],
    offered: tuple[list[_Csrf], dict[str, str]],
    refetch: Callable[[dict[str, str]], Awaitable[list[_Csrf]]] | None = None,
) -> CustomShape:
    """``shape`` with the first way of presenting the login's refresh token that the API
    accepts (with a new access token back), in the order of :data:`_BODY_WAYS` (a Bearer
    token is what flask-jwt-extended wants); for a cookie API, the cookie. Each way is tried
    first alone, then with each of the offered CSRF values in each of :data:`CSRF_HEADERS` (and
    a cookie's sent back as the cookie); all with the session cookies ``shape`` sends, then,
    when every one was refused, all again with the other cookies offered (the login's). When
    all of that was refused, ``refetch`` may hand out a new value, which the login gave the
    session: everything is tried once more with it."""
    csrf, jar = offered
    document, response = login
    if shape.refresh_cookie is not None:
        token = _cookies(response).get(shape.refresh_cookie, "")
        ways = [shape]
    else:
        token = str(json_path(document, shape.refresh_token_path or ""))
        given = ("given",) if shape.paths.refresh_json is not None else _BODY_WAYS
        ways = [dataclasses.replace(shape, presented=way) for way in given]
    access = str(json_path(document, shape.access_token_path) or "")
    if shape.access_cookie is not None:
        access = _cookies(response).get(shape.access_cookie, "")
    secrets = [*secrets, token, access, *(found.value for found in csrf), *jar.values()]
    sent_always = {name: jar[name] for name in shape.session_cookies}
    rounds = [sent_always] if len(jar) == len(sent_always) else [sent_always, jar]
    path = shape.paths.refresh
    answers = []
    again = False
    while True:
        tried = ways + [
            dataclasses.replace(_sourced(way, found), csrf_header=header)
            for way in ways
            for found in csrf
            for header in _headers_for(found)
        ]
        csrf_values = {found.source[1]: found.value for found in csrf}
        for cookies in rounds:
            also = f" and the cookies {', '.join(cookies)}" if cookies else ""
            also += " (the value fetched again after the login)" if again else ""
            for candidate in tried:
                key = candidate.csrf_cookie or candidate.csrf_token_path or ""
                values = {
                    "refresh_token": token,
                    "access_token": access,
                    "csrf": csrf_values.get(key, ""),
                }
                session = _Session(values, cookies)
                answer = await _sent(http, base, candidate, candidate.refresh_fields(), session)
                if (
                    answer.status_code in (404, 405)
                    and not _BODIES & candidate.presentation().keys()
                ):
                    # No such POST route: a refresh that reads a cookie or a header may be a
                    # GET (an Express ``router.get("/refresh")``).
                    answers.append(f"POST {_presented(candidate)}{also}: {_said(answer, secrets)}")
                    candidate = dataclasses.replace(candidate, refresh_method="GET")
                    fields = candidate.refresh_fields()
                    answer = await _sent(http, base, candidate, fields, session)
                if _went_through(candidate, answer):
                    kept = _renewed(
                        dataclasses.replace(
                            candidate, session_cookies=tuple(cookies), csrf_after_login=again
                        ),
                        answer,
                    )
                    if kept.paths.revoke is None:
                        return kept
                    after = _after(kept, answer, session)
                    return await _logged_out(http, base, kept, after, secrets)
                said = f"{_presented(candidate)}{also}: {_said(answer, secrets)}"
                answers.append(f"GET {said}" if candidate.refresh_method == "GET" else said)
        if again or refetch is None:
            break
        csrf, again = await refetch(jar), True
        if not csrf:
            break
        secrets += [found.value for found in csrf]
    raise TargetError(f"the refresh at {path} refused the token ({'; '.join(answers)})")


def _went_through(shape: CustomShape, answer: httpx.Response) -> bool:
    """Whether a refresh was taken, as a run judges it: a 2xx, or a cookie API's redirect
    that sets the refresh cookie (see ``TargetProfile.parse_tokens``)."""
    if answer.is_success:
        return True
    cookie = shape.refresh_cookie
    return _acted_on(answer) and cookie is not None and bool(_cookies(answer).get(cookie))


def _acted_on(answer: httpx.Response) -> bool:
    """A redirect that sends the browser on once the request was acted on, as a run reads it
    (:func:`stress.target.acted_on`)."""
    return acted_on(answer.status_code)


@dataclass(frozen=True)
class _Session:
    """The probe's session as its next request sends it: the placeholders' values (the
    refresh and access tokens, the CSRF value) and the session's other cookies."""

    values: dict[str, str]
    cookies: dict[str, str]


async def _sent(
    http: httpx.AsyncClient,
    base: str,
    shape: CustomShape,
    fields: dict[str, Any],
    session: _Session,
) -> httpx.Response:
    """The request template ``fields`` filled for ``session`` and sent as a run sends it: the
    refresh token as its cookie on a cookie API, the CSRF value as its cookie too on a double
    submit, then the session's cookies."""
    request = fill_placeholders(fields, session.values)
    url = urljoin(base, request["path"])
    sent = []
    if shape.refresh_cookie is not None and shape.sends_refresh_cookie(url):
        sent.append(f"{shape.refresh_cookie}={session.values['refresh_token']}")
    if shape.csrf_cookie is not None:
        sent.append(f"{shape.csrf_cookie}={session.values['csrf']}")
    headers = _with_cookies(dict(request.get("headers", {})), sent, session.cookies)
    if "form" in request:
        return await _post_form(http, url, request["form"], headers)
    method = request.get("method", "POST")
    return await _post(http, url, request.get("json"), headers, method)


def _after(shape: CustomShape, answer: httpx.Response, before: _Session) -> _Session:
    """The session once the refresh ``answer`` came: the tokens, CSRF value and cookies it set
    in place of those ``before`` (a target that does not rotate keeps its refresh token)."""
    document, given = _json_or_none(answer), _cookies(answer)

    def found(cookie: str | None, path: str | None, old: str) -> str:
        if cookie is not None:
            return given.get(cookie, old)
        value = json_path(document, path) if path is not None else None
        return value if isinstance(value, str) and value else old

    old = before.values
    values = {
        "refresh_token": found(
            shape.refresh_cookie, shape.refresh_token_path, old["refresh_token"]
        ),
        "access_token": found(shape.access_cookie, shape.access_token_path, old["access_token"]),
        "csrf": found(shape.csrf_cookie, shape.csrf_token_path, old["csrf"]),
    }
    cookies = {name: given.get(name, value) for name, value in before.cookies.items()}
    return _Session(values, cookies)


async def _logged_out(
    http: httpx.AsyncClient,
    base: str,
    shape: CustomShape,
    session: _Session,
    secrets: list[str],
) -> CustomShape:
    """``shape`` with the first way of logging out (:meth:`CustomShape.revoke_ways`) that the API
    answers with a 2xx or a 302 or 303 (a server-rendered app's, to its sign-in page), each sent
    as a POST, and again as a DELETE, then as a GET (without a body), while the answer says the
    route or method is not there (404, 405: a Rails ``sign_out``, an Express GET route). Then
    the refresh token sent with it is refreshed once more: a logout that revoked nothing on the
    server (one that only clears the client's cookie) is kept, and said so, because a run's
    revoke steps will find exactly that."""
    path = shape.paths.revoke
    secrets = [*secrets, *session.values.values(), *session.cookies.values()]
    answers = []
    for way in shape.revoke_ways():
        for method in _LOGOUT_METHODS:
            candidate = dataclasses.replace(shape, revoke_way=way, revoke_method=method)
            fields = candidate.revoke_fields()
            if method == "GET" and _BODIES & fields.keys():
                break  # a GET carries no body
            answer = await _sent(http, base, candidate, fields, session)
            if answer.is_success or _acted_on(answer):
                again = await _sent(http, base, shape, shape.refresh_fields(), session)
                return dataclasses.replace(candidate, logout_kept_refresh=again.is_success)
            answers.append(f"{method} {_logout_way(candidate)}: {_said(answer, secrets)}")
            if answer.status_code not in (404, 405):
                break
    unsent = shape.unsent_note(urljoin(base, path or ""))
    raise TargetError(
        f"the logout at {path} refused every way tried{unsent} ({'; '.join(answers)}); check "
        "--revoke-path, or drop it"
    )


def _logout_way(shape: CustomShape) -> str:
    if shape.revoke_way == "access":
        return "the access token as Bearer alone"
    said = _token_presented(shape)
    return said + " and the access token as Bearer" if shape.revoke_way == "with-access" else said


def _renewed(shape: CustomShape, answer: httpx.Response) -> CustomShape:
    """``shape``, once the refresh it made is known to have answered a new access token."""
    path = shape.paths.refresh
    if shape.access_cookie is not None:
        if shape.access_cookie not in _cookies(answer):
            raise TargetError(f"the refresh at {path} set no new {shape.access_cookie} cookie")
        return shape
    refreshed = _json_or_none(answer)
    if not isinstance(json_path(refreshed, shape.access_token_path), str):
        # The refresh may answer its tokens elsewhere than the login did ({user, tokens} at
        # the login, the tokens alone at the refresh): then the paths are the refresh's.
        access = _find(refreshed, ACCESS_NAMES)
        if access is None:
            raise TargetError(
                f"the refresh at {path} answered no access token at {shape.access_token_path} "
                f"nor under {', '.join(ACCESS_NAMES)} (fields: {_keys(refreshed)})"
            )
        shape = dataclasses.replace(
            shape, access_token_path=access, login_access_token_path=shape.access_token_path
        )
    old = shape.refresh_token_path
    if old is not None and not isinstance(json_path(refreshed, old), str):
        found = _find(refreshed, REFRESH_NAMES)
        if found is not None:  # (none at all: a refresh that keeps its token)
            shape = dataclasses.replace(
                shape, refresh_token_path=found, login_refresh_token_path=old
            )
    return shape


def _presented(shape: CustomShape) -> str:
    said = _token_presented(shape)
    if shape.csrf_header is not None:
        said += f" with {shape.csrf_cookie or shape.csrf_token_path} as {shape.csrf_header}"
    return said


def _token_presented(shape: CustomShape) -> str:
    if shape.presented == "given":
        return "the body --refresh-json gives"
    if shape.presented == "cookie":
        return f"the cookie {shape.refresh_cookie}"
    if shape.presented == "bearer":
        return "an Authorization: Bearer header"
    if shape.presented == "form":
        return f"the form {_fields(shape.presentation()['form'])}"
    said = f"the body {_fields(shape.presentation()['json'])}"
    return (
        said + " and the access token as Bearer" if shape.presented == "body-and-access" else said
    )


def _csrf_cookies(names: list[str]) -> list[str]:
    """The cookies named like a CSRF value, one that goes with the refresh token first
    (flask-jwt-extended sets ``csrf_access_token`` and ``csrf_refresh_token``)."""
    found = [n for n in names if "csrf" in n.lower() or "xsrf" in n.lower()]
    return sorted(found, key=lambda n: "refresh" not in n.lower())


def _csrf_headers(cookie: str) -> tuple[str, ...]:
    """:data:`CSRF_HEADERS`, the one a framework pairs with a cookie named like ``cookie``
    first (Angular's ``XSRF-TOKEN`` goes back as ``X-XSRF-TOKEN``)."""
    if "xsrf" in cookie.lower():
        return ("X-XSRF-TOKEN", *(h for h in CSRF_HEADERS if h != "X-XSRF-TOKEN"))
    if cookie.lower() == "csrftoken":
        return ("X-CSRFToken", *(h for h in CSRF_HEADERS if h != "X-CSRFToken"))
    return CSRF_HEADERS


def _field(path: str) -> str:
    """The field name a token is sent back under: the last part of where it was found."""
    return path.rsplit(".", 1)[-1]


async def _get(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> httpx.Response:
    """GET with the cookies given and no others (see :func:`_post`)."""
    http.cookies.clear()
    try:
        return await http.get(url, headers={"accept": "application/json", **headers})
    except httpx.HTTPError as exc:
        raise TargetError(f"{url}: unreachable ({type(exc).__name__}: {exc})") from exc


async def _post(
    http: httpx.AsyncClient,
    url: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    method: str = "POST",
) -> httpx.Response:
    """POST (or ``method``) as the tester will: with the cookies given and no others. httpx
    would keep the login's cookies and send them on, and a refresh that works only thanks to a
    cookie the scenario does not send would be learnt wrong."""
    http.cookies.clear()
    try:
        headers = {"accept": "application/json", **_from_origin(http, url, headers), **headers}
        return await http.request(method, url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise TargetError(f"{url}: unreachable ({type(exc).__name__}: {exc})") from exc


async def _post_form(
    http: httpx.AsyncClient, url: str, form: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    """POST ``form`` form-encoded, with the cookies given and no others (see :func:`_post`)."""
    http.cookies.clear()
    try:
        sent = {"accept": "application/json", **_from_origin(http, url, headers), **headers}
        return await http.post(url, data=form, headers=sent)
    except httpx.HTTPError as exc:
        raise TargetError(f"{url}: unreachable ({type(exc).__name__}: {exc})") from exc


def _from_origin(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, str]:
    """The ``Origin`` header a run sends with this request (see
    :func:`stress.target.browser_origin`), unless the target's headers or the request's name
    one; every request probed here has a body."""
    if "origin" in http.headers or any(name.lower() == "origin" for name in headers):
        return {}
    return {"origin": browser_origin(url)}


def _json_or_none(response: httpx.Response) -> Any:
    """The body as JSON, or None: an API that sets its tokens as cookies may answer none."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _find(document: Any, names: tuple[str, ...]) -> str | None:
    """The path of the first token-like string under ``names``: at the top, else one object
    down (``data.accessToken``), else two (a GraphQL answer's ``data.login.accessToken``), the
    shallowest first."""
    level: list[tuple[str, Any]] = [("", document)] if isinstance(document, dict) else []
    for _ in range(_DEPTH + 1):
        for prefix, node in level:
            for name in names:
                if isinstance(node.get(name), str) and node[name]:
                    return prefix + name
        level = [
            (f"{prefix}{key}.", value)
            for prefix, node in level
            for key, value in node.items()
            if isinstance(value, dict) and "." not in key
        ]
    return None


def _cookies(response: httpx.Response) -> dict[str, str]:
    """The cookies a response sets with a value, in order, read from its headers as a browser
    reads them (a cookie jar would drop a ``Secure`` cookie sent over http)."""
    headers = response.headers.get_list("set-cookie")
    return {name: value for name, value in cookies_set(headers).items() if value}


def _scoped(response: httpx.Response, name: str) -> str | None:
    """The path the cookie ``name`` is set for by ``response``, when it is not the whole site."""
    where = cookie_path(response.headers.get_list("set-cookie"), name, response.request.url.path)
    return None if where in (None, "/") else where


def _access_cookie(names: list[str]) -> str | None:
    """The one cookie named like an access token (``access_token``, ``at``), if exactly one."""
    likely = [n for n in names if "access" in n.lower() or n.lower() == "at"]
    return likely[0] if len(likely) == 1 else None


def _refresh_cookie(names: list[str], named: str | None, login_path: str) -> str:
    """The cookie that carries the refresh token: the one named, else the only or likely one."""
    if named is not None:
        if named not in names:
            found = ", ".join(names) or "none"
            raise TargetError(f"the login at {login_path} set no cookie {named} (it set: {found})")
        return named
    likely = [n for n in names if "refresh" in n.lower() or n.lower() == "rt"]
    if len(names) == 1:
        return names[0]
    if len(likely) == 1:
        return likely[0]
    found = f"it set the cookies {', '.join(names)}" if names else "it set no cookie"
    raise TargetError(
        f"the login at {login_path} answered no refresh token under {', '.join(REFRESH_NAMES)} "
        f"and {found}: pass --refresh-cookie NAME if one holds it"
    )


def _fields(template: dict[str, Any]) -> str:
    return "{" + ", ".join(template) + "}"


def _keys(document: Any) -> str:
    return ", ".join(map(str, document)) if isinstance(document, dict) else type(document).__name__


def _said(response: httpx.Response, secrets: list[str]) -> str:
    """The status, where a redirect points (FastAPI's to the path with a slash, say) and the
    start of the body, with every secret sent masked: some frameworks echo the request's
    fields in their validation errors."""
    text = response.text
    if response.is_redirect:
        text = f"redirect to {response.headers['location']} {text}"
    for secret in secrets:  # before the cut, so that no part of one is left
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())[:_SHOWN]
    return f"{response.status_code} {text}".rstrip()
