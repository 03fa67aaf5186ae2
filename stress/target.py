"""Target profiles: how to build each request and read each response for one kind of target.

A scenario's ``[target]`` table, plus discovery, becomes a :class:`TargetProfile`: pure request
builders (``refresh``, ``revoke``, ``use``, ``login``) producing wire requests, and one parser
that reads a token response into a pair or a rejection. Nothing here does I/O, so the same
profile serves the burst engine and unit tests, and nothing assumes the reference server: OAuth
2.0 servers, custom JSON APIs and cookie-based APIs differ only in these templates.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import os
import re
import time
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import quote, quote_plus, urlencode, urljoin, urlsplit

import msgspec

from stress import __version__
from stress.client_assertion import ASSERTION_TYPE, ClientAssertion
from stress.dpop import DpopKey
from stress.errors import ScenarioError
from stress.graphql import graphql_error
from stress.scenario import ASSERTED_AUTHS, RequestSpec, TargetSpec
from stress.set_cookie import cookies_set, sent_to
from stress.types import NOT_OAUTH, RETRYABLE_STATUSES
from stress.wire import WireOutcome, WireRequest, WireResponse, build_request

__all__ = [
    "RETRY_LATER_STATUSES",
    "USER_AGENT",
    "Endpoints",
    "Parsed",
    "TargetProfile",
    "TokenPair",
    "acted_on",
    "browser_origin",
    "fill_placeholders",
    "json_path",
    "retry_after",
    "set_cookies",
    "target_headers",
    "with_user_agent",
]

# Statuses whose Retry-After a well-behaved client honours by waiting and trying again.
RETRY_LATER_STATUSES = frozenset({429, 503})

JSON_HEADERS = (("content-type", "application/json"), ("accept", "application/json"))
FORM_HEADERS = (
    ("content-type", "application/x-www-form-urlencoded"),
    ("accept", "application/json"),
)


@dataclass(frozen=True)
class Endpoints:
    """Absolute-or-relative endpoint paths after discovery; None when the target has none."""

    token: str | None
    revocation: str | None
    jwks: str | None
    resource: str | None


# Both are built for every answer a run reads: msgspec builds a frozen struct in C, where a
# frozen dataclass sets each field through ``object.__setattr__``. They hold strings and each
# other only, so they stay out of the cyclic collector's way.


class TokenPair(msgspec.Struct, frozen=True, gc=False):
    """Raw tokens held in memory only; ``refresh`` None means the server issued none.

    ``csrf`` is the CSRF value the same answer gave (``target.csrf_cookie`` or
    ``target.csrf_token_path``), None if it gave none.
    """

    access: str | None
    refresh: str | None
    csrf: str | None = None


class Parsed(msgspec.Struct, frozen=True, gc=False):
    """How one response classifies (DESIGN.md op record): ok, fail (rejected) or info."""

    outcome: Literal["ok", "fail", "info"]
    tokens: TokenPair | None
    error: str | None
    # Seconds a 429/503 asked the client to wait before trying again (Retry-After).
    retry_after: float | None = None


_PLAIN_OK = Parsed("ok", None, None)
_NO_COOKIES: Mapping[str, str] = {}


def json_path(document: Any, path: str) -> Any:
    """Follow a dotted path (``data.tokens.0.refresh``) through JSON objects and arrays."""
    node = document
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def fill_placeholders(template: Any, values: Mapping[str, str]) -> Any:
    """Substitute ``{name}`` placeholders in every string of a template, recursively."""
    if isinstance(template, str):
        out = template
        for key, value in values.items():
            out = out.replace("{" + key + "}", value)
        return out
    if isinstance(template, dict):
        return {k: fill_placeholders(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill_placeholders(v, values) for v in template]
    return template


USER_AGENT = f"auth-stress/{__version__}"
"""What every request to a target says it comes from: some gateways refuse a request without a
User-Agent (AWS WAF's core rule set blocks it), and the server's log can tell the tester's
requests from others. A ``User-Agent`` in ``target.headers`` replaces it."""


def with_user_agent(headers: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """``headers`` (names in lower case), after :data:`USER_AGENT` unless they name one."""
    given = tuple((name.lower(), value) for name, value in headers)
    if any(name == "user-agent" for name, _ in given):
        return given
    return (("user-agent", USER_AGENT), *given)


@functools.lru_cache(maxsize=64)  # a run's few bases, on every request of a custom API
def browser_origin(url: str) -> str:
    """The ``Origin`` a browser sends with a request from a page of ``url``'s own origin.

    Why custom APIs get one: a browser sends it with every POST, PUT, PATCH and DELETE, and
    servers check it against their own: Django's CSRF check over HTTPS refuses a cookie-session
    POST with neither ``Origin`` nor ``Referer``, and SvelteKit and Hono refuse a form POST whose
    ``Origin`` is not the server's. The page is taken to be on the API's origin; an app served
    from another one sets ``Origin`` in ``target.headers``. OAuth 2.0 token endpoints get none:
    Keycloak refuses a token request whose ``Origin`` is not among the client's web origins.
    """
    parts = urlsplit(url)
    # The host as the request's Host header names it (port included), never a userinfo part.
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def target_headers(
    spec: TargetSpec, values: Mapping[str, str] | None = None
) -> tuple[tuple[str, str], ...]:
    """The headers that go with every request to the target: the User-Agent, ``target.headers``,
    then ``target.headers_env`` read from the environment (or from ``values`` by variable
    name); ``ScenarioError`` names a variable that is not set."""
    found = list(spec.headers.items())
    for name, variable in spec.headers_env.items():
        value = (values if values is not None else os.environ).get(variable)
        if value is None:
            raise ScenarioError(
                f"target.headers_env.{name}: environment variable {variable} is not set"
            )
        found.append((name, value))
    return with_user_agent(found)


class TargetProfile:
    """Request builders and the response parser for one target kind and base URL set."""

    def __init__(
        self,
        spec: TargetSpec,
        endpoints: Endpoints,
        *,
        client_secret: str | None = None,
        header_values: Mapping[str, str] | None = None,
        client_assertion: str | None = None,
        dpop_proof: str | None = None,
    ) -> None:
        """``client_secret`` overrides the one read from ``target.client_secret_env``,
        ``header_values`` the environment that ``target.headers_env`` is read from, and
        ``client_assertion`` and ``dpop_proof`` every signed client assertion and DPoP proof
        (the request templates' marks)."""
        self.spec = spec
        self.endpoints = endpoints
        self._headers = target_headers(spec, header_values)
        self._header_names = frozenset(name for name, _ in self._headers)
        self._client_secret = client_secret
        if client_secret is None and spec.client_secret_env is not None:
            secret = os.environ.get(spec.client_secret_env)
            if secret is None:
                raise ScenarioError(
                    f"target.client_secret_env: environment variable "
                    f"{spec.client_secret_env} is not set"
                )
            self._client_secret = secret
        asserted = spec.client_auth in ASSERTED_AUTHS
        self._fixed_assertion = client_assertion if asserted else None
        signs = asserted and client_assertion is None
        self._assertion = self._assertion_signer() if signs else None
        self._fixed_proof = dpop_proof if spec.dpop else None
        self._dpop = DpopKey() if spec.dpop and dpop_proof is None else None

    def _assertion_signer(self) -> ClientAssertion | None:
        """What signs the client's assertions, for ``private_key_jwt`` and ``client_secret_jwt``;
        ``ScenarioError`` when the key cannot be read."""
        spec, client_id = self.spec, self.spec.client_id or ""
        if spec.client_auth == "client_secret_jwt":
            return ClientAssertion.secret(
                self._client_secret or "", client_id, spec.client_assertion_audience
            )
        if spec.client_key_env is None:  # refused by the scenario's checks
            return None
        pem = os.environ.get(spec.client_key_env)
        if pem is None:
            raise ScenarioError(
                f"target.client_key_env: environment variable {spec.client_key_env} is not set"
            )
        try:
            return ClientAssertion.private_key(
                pem, client_id, spec.client_key_id, spec.client_assertion_audience
            )
        except ValueError as exc:
            raise ScenarioError(
                f"target.client_key_env: {spec.client_key_env} holds no key to sign with: {exc}"
            ) from None

    # -- request builders ---------------------------------------------------------------

    def login(
        self,
        base: str,
        username: str,
        password: str,
        n: int,
        csrf: str | None = None,
        cookies: Mapping[str, str] = _NO_COOKIES,
    ) -> WireRequest:
        """The login of session ``n``; ``csrf`` is the value its preflight got, if any, and
        ``cookies`` the session's (``target.session_cookies``), as on every builder."""
        values = {"username": username, "password": password, "n": str(n), "csrf": csrf or ""}
        if self.spec.kind == "oauth2" and self.spec.login is None:
            form = {"grant_type": "password", "username": username, "password": password}
            token = self._require(self.endpoints.token, "token")
            return self._oauth_form(base, token, form, cookies)
        if self.spec.login is None:
            raise ScenarioError(
                "target.login: auth.mode = 'password' on a custom target needs a "
                "[target.login] request (or use auth.mode = 'mint')"
            )
        return self._templated(base, self.spec.login, values, None, cookies)

    def refresh(
        self,
        base: str,
        refresh_token: str,
        access_token: str | None = None,
        csrf: str | None = None,
        cookies: Mapping[str, str] = _NO_COOKIES,
    ) -> WireRequest:
        """A refresh presenting ``refresh_token``; a custom template's ``{access_token}`` is
        ``access_token``, the session's current one (some APIs want both back), and its
        ``{csrf}`` the CSRF value issued with ``refresh_token``, sent as its cookie too."""
        if self.spec.kind == "oauth2" and self.spec.refresh is None:
            form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
            token = self._require(self.endpoints.token, "token")
            return self._oauth_form(base, token, form, cookies)
        assert self.spec.refresh is not None  # validated by TargetSpec
        values = _presenting(refresh_token, access_token, csrf)
        return self._templated(base, self.spec.refresh, values, refresh_token, cookies)

    def revoke(
        self,
        base: str,
        refresh_token: str,
        access_token: str | None = None,
        csrf: str | None = None,
        cookies: Mapping[str, str] = _NO_COOKIES,
    ) -> WireRequest:
        """A logout presenting ``refresh_token`` (see :meth:`refresh` for the others)."""
        if self.spec.revoke is not None:
            values = _presenting(refresh_token, access_token, csrf)
            return self._templated(base, self.spec.revoke, values, refresh_token, cookies)
        if self.spec.kind == "oauth2":
            endpoint = self._require(self.endpoints.revocation, "revocation")
            form = {"token": refresh_token, "token_type_hint": "refresh_token"}
            return self._oauth_form(base, endpoint, form, cookies)
        raise ScenarioError("target.revoke: revoke steps on a custom target need [target.revoke]")

    def renewed(self, request: WireRequest) -> WireRequest:
        """``request`` as a client sends it again (a retry, a lost response's resend): the same,
        with a new client assertion and DPoP proof where it carries them, since a server may
        refuse one it has seen (RFC 7523 section 3, RFC 9449 section 11.1)."""
        body, headers = request.body, request.headers
        if self._assertion is not None:
            head, found, _ = body.rpartition(b"&client_assertion=")
            if found:
                body = head + found + quote_plus(self._assertion.sign(request.url)).encode()
        if self._dpop is not None:
            access = None
            for name, value in headers:
                if name == "authorization" and value.startswith("DPoP "):
                    access = value.removeprefix("DPoP ")
            proof = self._dpop.proof(request.method, request.url, access)
            headers = tuple((n, proof if n == "dpop" else v) for n, v in headers)
        if body is request.body and headers is request.headers:
            return request
        return build_request(request.method, request.url, headers, body)

    def preflight(self, base: str, cookies: Mapping[str, str] = _NO_COOKIES) -> WireRequest:
        """The GET that hands out a CSRF value before a login (``target.csrf_preflight``)."""
        assert self.spec.csrf_preflight is not None  # asked for only when set
        url = _join(base, self.spec.csrf_preflight)
        headers = _with_cookies(self._sent_with([("accept", "application/json")]), [], cookies)
        return build_request("GET", url, tuple(headers))

    def use(
        self, base: str, access_token: str, cookies: Mapping[str, str] = _NO_COOKIES
    ) -> WireRequest:
        """A call of the protected API: ``GET resource``, or the ``[target.use]`` request,
        with the access token where its template puts ``{access_token}``, else as a default
        use sends it (a cookie, ``Authorization: DPoP`` with a proof, or a Bearer token)."""
        if self.spec.use is not None:
            return self._templated_use(base, self.spec.use, access_token, cookies)
        resource = self._require(self.endpoints.resource, "resource")
        headers = self._sent_with([("accept", "application/json")])
        url = _join(base, resource)
        presented, sent = self._access_presented("GET", url, access_token)
        headers[:0] = presented
        return build_request("GET", url, tuple(_with_cookies(headers, sent, cookies)))

    def _access_presented(
        self, method: str, url: str, access_token: str
    ) -> tuple[list[tuple[str, str]], list[str]]:
        """How a use presents the access token: the headers, and the cookies, it goes in."""
        if self.spec.access_cookie is not None:
            return [], [f"{self.spec.access_cookie}={access_token}"]
        if self.spec.dpop:
            proof = self._proof(method, url, access_token)
            return [("authorization", f"DPoP {access_token}"), ("dpop", proof)], []
        return [("authorization", f"Bearer {access_token}")], []

    def _templated_use(
        self, base: str, spec: RequestSpec, access_token: str, cookies: Mapping[str, str]
    ) -> WireRequest:
        values = {"access_token": access_token}
        if spec.uses("access_token"):
            return self._templated(base, spec, values, None, cookies)
        if self.spec.access_cookie is not None:  # the access cookie, beside the session's
            jar = {**cookies, self.spec.access_cookie: access_token}
            return self._templated(base, spec, values, None, jar)
        request = self._templated(base, spec, values, None, cookies)
        presented, _ = self._access_presented(spec.method, request.url, access_token)
        return build_request(
            request.method, request.url, (*presented, *request.headers), request.body
        )

    def hear(self, outcome: WireOutcome) -> None:
        """Keep the DPoP nonce ``outcome``'s answer gives, for the next proofs to its endpoint."""
        if self._dpop is not None and outcome.response is not None:
            self._dpop.heard(outcome.request.url, outcome.response.header("dpop-nonce"))

    def nonce_resend(self, outcome: WireOutcome) -> WireRequest | None:
        """The request of ``outcome`` to send again with the nonce its answer gave, when the
        answer refused it for want of one (``use_dpop_nonce``, RFC 9449 sections 8 and 9);
        None otherwise. The nonce of an answer not sent again is kept when it is recorded
        (:meth:`hear`)."""
        answer = outcome.response
        if self._dpop is None or answer is None or answer.status not in (400, 401):
            return None
        if not answer.header("dpop-nonce"):
            return None
        challenge = answer.header("www-authenticate") or ""
        document = _decode_json(_decoded_body(answer))
        error = document.get("error") if isinstance(document, dict) else None
        if error != "use_dpop_nonce" and 'error="use_dpop_nonce"' not in challenge:
            return None
        self.hear(outcome)  # this answer is not recorded: its nonce is kept here
        return self.renewed(outcome.request)

    def _proof(self, method: str, url: str, access_token: str | None = None) -> str:
        """A DPoP proof for the request (the templates' mark in place of one)."""
        if self._dpop is None:
            return self._fixed_proof or ""
        return self._dpop.proof(method, url, access_token)

    @property
    def can_revoke(self) -> bool:
        return self.spec.revoke is not None or (
            self.spec.kind == "oauth2" and self.endpoints.revocation is not None
        )

    # -- response parsing ---------------------------------------------------------------

    def parse_tokens(self, response: WireResponse, login: bool = False) -> Parsed:
        """Classify a login/refresh response; a 2xx without an access token is ``info``, unless
        an OAuth 2.0 server's answer is an error document (then a refusal). A ``login``'s answer
        is read at the login's own token paths, where the scenario gives them.

        A cookie API's 302 or 303 that sets the refresh cookie is read as a 2xx: a server-rendered
        app's form login answers so with its cookies (Post/Redirect/Get), and the browser that
        follows it keeps them. Any other redirect is a rejection, the sign-in page's included,
        except from an OAuth 2.0 token endpoint, whose refusals carry an RFC 6749 error: its 3xx
        or 4xx without one is unknown (:data:`NOT_OAUTH`).
        """
        early = None if self._redirect_sets_refresh(response) else self.classify_status(response)
        if early is not None:
            return self._foreign(response, early)
        document = _decode_json(_decoded_body(response))
        access: Any = None
        if self.spec.access_cookie is not None:
            access = _set_cookie(response, self.spec.access_cookie)
        elif document:
            access = json_path(document, self._access_path(login))
        refresh: Any = None
        refresh_path = self._refresh_path(login)
        if self.spec.kind == "cookie":
            refresh = _set_cookie(response, self.spec.refresh_cookie or "")
        elif refresh_path is not None and document:
            refresh = json_path(document, refresh_path)
        if not isinstance(access, str) or not access:
            error = document.get("error") if isinstance(document, dict) else None
            if self.spec.kind == "oauth2" and isinstance(error, str) and error:
                # An RFC 6749 error answered with 200, as GitHub's token endpoint answers
                # {"error": "bad_refresh_token"}: a refusal, however its status reads.
                return Parsed("fail", None, error)
            refused = graphql_error(document) if self.spec.kind != "oauth2" else None
            if refused is not None:
                return Parsed(refused[0], None, refused[1])
            where = "cookie" if self.spec.access_cookie is not None else "body"
            answer = "2xx" if response.status < 300 else "redirect"
            return Parsed("info", None, f"malformed-response: no access token in {answer} {where}")
        if refresh is not None and (not isinstance(refresh, str) or not refresh):
            return Parsed("info", None, "malformed-response: refresh token is not a string")
        sourced = self.spec.csrf_cookie is not None or self.spec.csrf_token_path is not None
        csrf = self.csrf(response, document) if sourced else None
        return Parsed("ok", TokenPair(access=access, refresh=refresh, csrf=csrf), None)

    def _foreign(self, response: WireResponse, early: Parsed) -> Parsed:
        """``early``, unless an OAuth 2.0 token endpoint seems not to have given it.

        Such an endpoint refuses with an RFC 6749 error document (section 5.2), whatever the
        status (400; 401; Auth0's 403). A 3xx or 4xx without one, a proxy's or a WAF's HTML
        403 to a burst or a gateway's 413, is no verdict on the token: unknown, as a 5xx is, so
        that no checker takes a request the endpoint may never have seen for a refusal. A 409
        or 429 stays what it is: a demand to wait, never a rejection.
        """
        status = response.status
        if (
            self.spec.kind != "oauth2"
            or early.outcome != "fail"
            or status in RETRYABLE_STATUSES
            or early.error != f"http-{status}"
        ):
            return early
        return Parsed("info", None, NOT_OAUTH, early.retry_after)

    def _access_path(self, login: bool) -> str:
        spec = self.spec
        return (spec.login_access_token_path if login else None) or spec.access_token_path

    def _refresh_path(self, login: bool) -> str | None:
        spec = self.spec
        return (spec.login_refresh_token_path if login else None) or spec.refresh_token_path

    def token_paths(self, login: bool) -> tuple[str, str | None]:
        """Where an answer has the access and the refresh token: a login's, or a refresh's."""
        return self._access_path(login), self._refresh_path(login)

    def parse_plain(self, response: WireResponse) -> Parsed:
        """Classify a use/revoke response: 2xx ok, 3xx and 4xx rejected, 5xx unknown; a 2xx
        that is a GraphQL error answer reads as :func:`graphql_error` says, whatever the kind:
        the API an OAuth 2.0 server's tokens are used at may be a GraphQL one (Hasura answers
        an expired token with 200 and ``invalid-jwt``), and RFC 7009's revocation endpoint
        answers no such document."""
        early = self.classify_status(response)
        if early is not None:
            return early
        # Looked for before any JSON is decoded: a use's answer is read on the load path.
        body = _decoded_body(response)
        refused = graphql_error(_decode_json(body)) if b'"errors"' in body else None
        return _PLAIN_OK if refused is None else Parsed(refused[0], None, refused[1])

    def parse_logout(self, response: WireResponse) -> Parsed:
        """Classify a revoke response as :meth:`parse_plain` does, except that a custom API's
        302 or 303 is a logout done: Django's ``LogoutView``, Rails' ``sign_out`` and Laravel's
        logout answer 302 or 303 once the session is ended, and the browser goes on to the page
        it is sent to. (RFC 7009's revocation endpoint answers 200; a redirect there is none.)"""
        if self.spec.kind != "oauth2" and acted_on(response.status):
            return _PLAIN_OK
        return self.parse_plain(response)

    def _redirect_sets_refresh(self, response: WireResponse) -> bool:
        if self.spec.kind != "cookie" or not acted_on(response.status):
            return False
        return _set_cookie(response, self.spec.refresh_cookie or "") is not None

    @staticmethod
    def classify_status(response: WireResponse) -> Parsed | None:
        """Non-2xx: 4xx is an explicit rejection; 5xx (and 408) leave the effect unknown."""
        status = response.status
        if 200 <= status < 300:
            return None
        document = _decode_json(_decoded_body(response))
        error = json_path(document, "error") if isinstance(document, dict) else None
        if isinstance(error, str) and error:
            label = error
        else:  # a GraphQL server's error code names it better (application/graphql-response+json)
            graphql = graphql_error(document)
            label = graphql[1] if graphql is not None else f"http-{status}"
        wait = retry_after(response)
        # A demand for a DPoP nonce refuses the request before its token is looked at, so it
        # says nothing of the token: unknown, never a refusal that checkers would count (a
        # single request is sent again with the nonce, and a burst refused whole; a member
        # refused alone cannot be).
        if status >= 500 or status == 408 or label == "use_dpop_nonce":
            return Parsed("info", None, label, wait)
        return Parsed("fail", None, label, wait)

    def session_cookies(self, response: WireResponse) -> dict[str, str | None]:
        """What an answer sets of ``target.session_cookies``: a value, or None to drop one."""
        names = self.spec.session_cookies
        return set_cookies(response, names) if names else {}

    def csrf(self, response: WireResponse, document: Any = None) -> str | None:
        """The CSRF value an answer gives, from its cookie or its body (``document``, decoded
        here when not given); None if it gives none."""
        if self.spec.csrf_cookie is not None:
            return _set_cookie(response, self.spec.csrf_cookie)
        if document is None:
            document = _decode_json(_decoded_body(response))
        value = json_path(document, self.spec.csrf_token_path or "") if document else None
        return value if isinstance(value, str) and value else None

    # -- helpers -------------------------------------------------------------------------

    def _require(self, endpoint: str | None, name: str) -> str:
        if endpoint is None:
            raise ScenarioError(
                f"target: no {name} endpoint: set target.{name}_endpoint "
                f"(or target.{name}) or enable discovery"
                if name != "resource"
                else "target.resource: the protected API path is not set"
            )
        return endpoint

    def _oauth_form(
        self, base: str, endpoint: str, form: dict[str, str], cookies: Mapping[str, str]
    ) -> WireRequest:
        if self.spec.scope and form.get("grant_type") == "password":
            form["scope"] = self.spec.scope
        headers, tail = self._client_credentials
        if cookies:
            headers = tuple(_with_cookies(list(headers), [], cookies))
        url = _join(base, endpoint)
        # A client assertion is signed for each request: servers refuse one seen before.
        signed = self._fixed_assertion
        if signed is None and self._assertion is not None:
            signed = self._assertion.sign(url)
        if signed is not None:
            tail += b"&client_assertion=" + quote_plus(signed).encode()
        if self.spec.dpop:
            headers = (*headers, ("dpop", self._proof("POST", url)))
        return build_request("POST", url, headers, _form(form) + tail)

    def _sent_with(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """``headers`` and then those sent with every request, which replace a default of the
        same name (an ``Accept`` the API wants instead of ``application/json``)."""
        return [h for h in headers if h[0] not in self._header_names] + list(self._headers)

    @functools.cached_property
    def _client_credentials(self) -> tuple[tuple[tuple[str, str], ...], bytes]:
        """The headers of a token-endpoint form and the encoded fields after its own: the
        client's credentials, as a Basic header or as form fields, and the headers sent with
        every request (the same on every request of a run, so built once)."""
        headers = list(FORM_HEADERS)
        extra: dict[str, str] = {}
        client_id = self.spec.client_id
        if self.spec.client_auth == "basic" and client_id is not None:
            raw = f"{quote(client_id, safe='')}:{quote(self._client_secret or '', safe='')}"
            headers.append(("authorization", "Basic " + base64.b64encode(raw.encode()).decode()))
        elif client_id is not None:
            extra["client_id"] = client_id
            if self.spec.client_auth == "body" and self._client_secret is not None:
                extra["client_secret"] = self._client_secret
            if self.spec.client_auth in ASSERTED_AUTHS:
                extra["client_assertion_type"] = ASSERTION_TYPE
        return tuple(self._sent_with(headers)), b"&" + _form(extra) if extra else b""

    def _templated(
        self,
        base: str,
        spec: RequestSpec,
        values: Mapping[str, str],
        cookie: str | None,
        jar: Mapping[str, str],
    ) -> WireRequest:
        headers = [(k.lower(), fill_placeholders(v, values)) for k, v in spec.headers.items()]
        headers = self._sent_with(headers)
        if (
            spec.method != "GET"
            and self.spec.kind != "oauth2"
            and not any(name == "origin" for name, _ in headers)
        ):
            headers.append(("origin", browser_origin(base)))
        body = b""
        if spec.json is not None:
            body = json.dumps(fill_placeholders(spec.json, values), separators=(",", ":")).encode()
            headers.extend(h for h in JSON_HEADERS if h[0] not in dict(headers))
        elif spec.form is not None:
            body = urlencode(fill_placeholders(spec.form, values)).encode()
            headers.extend(h for h in FORM_HEADERS if h[0] not in dict(headers))
        # The path may carry a token: not cached.
        url = urljoin(base, fill_placeholders(spec.path, values))
        cookies = []
        # A request outside the cookie's path (a logout elsewhere) goes without it, as a
        # browser's would.
        if (
            self.spec.kind == "cookie"
            and cookie is not None
            and self.spec.refresh_cookie
            and sent_to(url, self.spec.refresh_cookie_path)
        ):
            cookies.append(f"{self.spec.refresh_cookie}={cookie}")
        if self.spec.csrf_cookie is not None and values.get("csrf"):
            # The double submit: the server compares the cookie with the copy sent elsewhere.
            cookies.append(f"{self.spec.csrf_cookie}={values['csrf']}")
        return WireRequest(
            method=spec.method,
            url=url,
            headers=tuple(_with_cookies(headers, cookies, jar)),
            body=body,
        )


def _with_cookies(
    headers: list[tuple[str, str]], sent: list[str], jar: Mapping[str, str]
) -> list[tuple[str, str]]:
    """``headers`` with one ``cookie`` header holding the ``sent`` pairs, then the session's
    own cookies (``jar``); unchanged when there are none."""
    pairs = sent + [f"{name}={value}" for name, value in jar.items()]
    if pairs:
        headers.append(("cookie", "; ".join(pairs)))
    return headers


def _presenting(refresh_token: str, access_token: str | None, csrf: str | None) -> dict[str, str]:
    """The placeholders of a request presenting ``refresh_token``; one not known is empty."""
    return {"refresh_token": refresh_token, "access_token": access_token or "", "csrf": csrf or ""}


# Every request of a run joins one of a few endpoint paths to one of a few bases: joined once
# each (never a templated path, which may carry a token).
_join = functools.lru_cache(maxsize=1024)(urljoin)


def _form(form: Mapping[str, str]) -> bytes:
    """``urlencode(form)`` for string values, without its generality (one per request)."""
    return "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in form.items()).encode()


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _quoted(value: str) -> str:
    """``quote_plus(value)``; a value of unreserved characters only (a base64url token, a
    grant type, most client ids) is its own quoting, found by one regex match in C."""
    return value if _UNRESERVED.fullmatch(value) else quote_plus(value)


def retry_after(response: WireResponse, now: float | None = None) -> float | None:
    """Seconds a 429 or 503 asks the client to wait (RFC 9110 §10.2.3), or None.

    ``Retry-After`` is either delta-seconds or an HTTP-date; ``now`` (Unix seconds, default the
    clock) is what an HTTP-date is measured from. A date in the past means "now" (0 s).
    """
    if response.status not in RETRY_LATER_STATUSES:
        return None
    value = (response.header("retry-after") or "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _decoded_body(response: WireResponse) -> bytes:
    """The body without its content coding. The tester sends no ``Accept-Encoding``, which
    allows any coding (RFC 9110, section 12.5.3), and a server that compresses every answer
    (Tomcat's ``compression="force"``) sends gzip all the same. An unknown or broken coding
    leaves the body as it came: it then reads as no JSON, as any other undecodable answer."""
    body = response.body
    if not body:
        return body
    coding = response.header("content-encoding")
    if coding is None:
        return body
    try:
        for step in reversed([c.strip().lower() for c in coding.split(",")]):
            if step in ("gzip", "x-gzip"):
                body = gzip.decompress(body)
            elif step == "deflate":
                body = _inflated(body)
            elif step != "identity":
                return response.body
    except (OSError, EOFError, zlib.error):
        return response.body
    return body


def _inflated(body: bytes) -> bytes:
    """A ``deflate`` body: zlib-wrapped, as RFC 9110 defines it, or raw, as some servers send."""
    try:
        return zlib.decompress(body)
    except zlib.error:
        return zlib.decompress(body, -zlib.MAX_WBITS)


def _decode_json(body: bytes) -> Any:
    """The JSON document of a body, None if it is none; msgspec first (every token response
    is decoded, and it is several times faster), the standard library for what msgspec
    refuses but JSON readers accept (UTF-16, a BOM, NaN)."""
    if not body:
        return None
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        pass
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def acted_on(status: int) -> bool:
    """Whether ``status`` sends the browser on once the request was acted on (302, 303: Post/
    Redirect/Get). 301, 307 and 308 say the resource is elsewhere (Starlette's 307 to the path
    with a slash, a 308 to https): the request was not acted on there, and is refused."""
    return status in (302, 303)


def _set_cookie(response: WireResponse, name: str) -> str | None:
    """The value a response sets for cookie ``name``; None if it sets none or clears it."""
    return set_cookies(response, (name,)).get(name)


def set_cookies(response: WireResponse, names: Collection[str]) -> dict[str, str | None]:
    """What a response sets for each of the cookies ``names`` it sets: the value, or None for
    one it clears (read as a browser reads them: :mod:`stress.set_cookie`)."""
    headers = (value for header, value in response.headers if header == "set-cookie")
    return {name: value for name, value in cookies_set(headers).items() if name in names}
