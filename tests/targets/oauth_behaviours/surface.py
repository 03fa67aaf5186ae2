"""The HTTP surface every behaviour shares: RFC 6749 token endpoint, RFC 7009 revocation, RFC 8414
metadata, a protected API, a JWKS when access tokens are JWTs, and a health check.

Why this module exists: the targets must differ only in their refresh policy, so parsing,
client and user checks, error bodies and every endpoint other than the refresh decision live
here, once. Every malformed request gets a 4xx with an RFC 6749 §5.2 body, never a 500. The
metadata publishes nothing about the refresh policy: a tester has to measure it.

Users ``user0`` .. ``user9999`` with password ``password``; one client, ``demo-client``: public
(a token request without ``client_id`` is taken as coming from it), or, given the public key of
its key pair, confidential with ``private_key_jwt`` (RFC 7523): every token and revocation
request must carry a signed assertion for this server, each with a ``jti`` never seen before.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

import jwt
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .behaviour import Behaviour, Issued, Rejected
from .store import Store

__all__ = ["CLIENT_ID", "PASSWORD", "build_app"]

CLIENT_ID = "demo-client"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PASSWORD = "password"
SCOPES = frozenset({"api", "profile"})
DEFAULT_SCOPE = "api"
ACCESS_TOKEN_SECONDS = 900
MAX_BODY = 8192
_USER = re.compile(r"user(0|[1-9][0-9]{0,3})")
_FORM = "application/x-www-form-urlencoded"
_HINTS = ("refresh_token", "access_token")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# What a web application firewall answers a request it blocks (AWS WAF's default is alike).
_BLOCKED = "<html><head><title>403 Forbidden</title></head><body>Request blocked.</body></html>"


class OAuthError(Exception):
    """An RFC 6749 §5.2 error response."""

    def __init__(
        self, error: str, description: str, status: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=self.status, headers={**_NO_STORE, **self.headers})


async def read_form(request: Request) -> dict[str, str]:
    """A bounded ``application/x-www-form-urlencoded`` body; each parameter at most once."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != _FORM:
        raise OAuthError("invalid_request", f"Content-Type must be {_FORM}")
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise OAuthError("invalid_request", f"body larger than {MAX_BODY} bytes")
    except ClientDisconnect as exc:
        raise OAuthError("invalid_request", "the client went away mid-body") from exc
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=32)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "malformed form body") from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise OAuthError("invalid_request", f"parameter {key!r} repeated")
        form[key] = value
    return form


def required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise OAuthError("invalid_request", f"missing parameter {name!r}")
    return value


def check_client(request: Request, form: dict[str, str]) -> None:
    """Only the public ``demo-client``: no credentials, and no other client id."""
    if "authorization" in request.headers:
        raise OAuthError("invalid_client", "demo-client is public: send no credentials", 401)
    if form.get("client_id", CLIENT_ID) != CLIENT_ID:
        raise OAuthError("invalid_client", "unknown client", 401)


class DpopCheck:
    """DPoP (RFC 9449) required: a valid proof with each token and API request, whose key's
    thumbprint is returned (what the tokens are bound to); a proof's ``jti`` is used once."""

    def __init__(self, nonces: bool = False, lifetime: float = 0.0) -> None:
        self._seen: set[str] = set()
        # With nonces, the token endpoint and the API each want their own in every proof; with
        # a lifetime, new ones once it is over (as Okta's expire), told with the next answer.
        self._nonces = nonces
        self._lifetime = lifetime
        self._made = 0.0
        self._current: dict[str, str] = {}

    def nonce(self, path: str) -> str | None:
        """The nonce the endpoint at ``path`` wants now, None when it wants none."""
        if not self._nonces or path not in ("/oauth/token", "/api/me"):
            return None
        now = time.monotonic()
        if not self._current or (self._lifetime and now - self._made > self._lifetime):
            token = secrets.token_urlsafe(12)
            self._current = {"/oauth/token": f"as-{token}", "/api/me": f"rs-{token}"}
            self._made = now
        return self._current[path]

    def __call__(self, request: Request, access_token: str | None = None) -> str:
        proof = request.headers.get("dpop", "")
        try:
            header = jwt.get_unverified_header(proof)
            if header.get("typ") != "dpop+jwt" or not isinstance(header.get("jwk"), dict):
                raise jwt.InvalidTokenError("not a DPoP proof")
            key = jwt.PyJWK(header["jwk"]).key
            claims = jwt.decode(
                proof, key, algorithms=["ES256"], options={"require": ["jti", "htm", "htu", "iat"]}
            )
        except (jwt.InvalidTokenError, jwt.PyJWKError, KeyError) as exc:
            raise OAuthError("invalid_dpop_proof", f"DPoP proof: {exc}") from exc
        url = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
        if claims["htm"] != request.method or claims["htu"] != url:
            raise OAuthError("invalid_dpop_proof", "DPoP proof of another request")
        if abs(claims["iat"] - time.time()) > 60 or claims["jti"] in self._seen:
            raise OAuthError("invalid_dpop_proof", "DPoP proof stale or replayed")
        wanted = self.nonce(request.url.path)
        if wanted is not None and claims.get("nonce") != wanted:
            raise OAuthError("use_dpop_nonce", "a nonce is wanted", headers={"DPoP-Nonce": wanted})
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode()).digest()
            if claims.get("ath") != base64.urlsafe_b64encode(digest).rstrip(b"=").decode():
                raise OAuthError("invalid_dpop_proof", "DPoP proof of another access token")
        self._seen.add(claims["jti"])
        return thumbprint(header["jwk"])


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638, for an EC key."""
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"),
                           sort_keys=True)  # fmt: skip
    return (
        base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    )


class AssertionCheck:
    """``demo-client`` as a ``private_key_jwt`` client whose public key is ``key``."""

    def __init__(self, key: Any) -> None:
        self._key = key
        self._seen: set[str] = set()

    def __call__(self, request: Request, form: dict[str, str]) -> None:
        if form.get("client_id", CLIENT_ID) != CLIENT_ID:
            raise OAuthError("invalid_client", "unknown client", 401)
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise OAuthError(
                "invalid_client", "demo-client authenticates with private_key_jwt", 401
            )
        base = f"{request.url.scheme}://{request.url.netloc}"
        try:
            claims = jwt.decode(
                form.get("client_assertion", ""),
                self._key,
                algorithms=["RS256", "ES256", "EdDSA"],
                audience=[base, f"{base}{request.url.path}"],
                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
            )
        except jwt.InvalidTokenError as exc:
            raise OAuthError("invalid_client", f"client assertion: {exc}", 401) from exc
        if claims["iss"] != CLIENT_ID or claims["sub"] != CLIENT_ID:
            raise OAuthError("invalid_client", "client assertion of another client", 401)
        if claims["jti"] in self._seen:
            raise OAuthError("invalid_client", "client assertion replayed", 401)
        self._seen.add(claims["jti"])


def granted_scope(form: dict[str, str]) -> str:
    requested = form.get("scope", DEFAULT_SCOPE).split()
    if not requested or not set(requested) <= SCOPES:
        raise OAuthError("invalid_scope", f"scope must be a subset of {sorted(SCOPES)}")
    return " ".join(sorted(set(requested)))


def issued_response(issued: Issued, token_type: str = "Bearer") -> JSONResponse:
    body: dict[str, object] = {
        "access_token": issued.access_token,
        "token_type": token_type,
        "expires_in": ACCESS_TOKEN_SECONDS,
        "scope": issued.scope,
    }
    if issued.refresh_token is not None:
        body["refresh_token"] = issued.refresh_token
    return JSONResponse(body, headers=_NO_STORE)


def build_app(
    behaviour: Behaviour,
    client_key: Any = None,
    dpop: bool = False,
    dpop_nonce: bool = False,
    nonce_lifetime: float = 0.0,
    waf_every: int = 0,
) -> Starlette:
    """The Starlette app serving ``behaviour`` over its store; with ``client_key`` (a public
    key), ``demo-client`` is a ``private_key_jwt`` client; with ``dpop``, every token is bound
    to the key of the DPoP proof it was issued with; with ``waf_every``, a firewall's HTML 403
    answers every ``waf_every``-th refresh before the server sees it."""
    store: Store = behaviour.store
    refreshes = itertools.count(1)
    proven = DpopCheck(dpop_nonce, nonce_lifetime) if dpop else None
    bound: dict[str, str] = {}  # token -> the thumbprint of the key it is bound to

    def bind(issued: Issued, jkt: str | None) -> JSONResponse:
        if jkt is None:
            return issued_response(issued)
        bound[issued.access_token] = jkt
        if issued.refresh_token is not None:
            bound[issued.refresh_token] = jkt
        return with_nonce(issued_response(issued, "DPoP"), "/oauth/token")

    def with_nonce(response: Response, path: str) -> Response:
        """``response`` with the endpoint's nonce, as servers hand it out with every answer."""
        nonce = proven.nonce(path) if proven is not None else None
        if nonce is not None:
            response.headers["DPoP-Nonce"] = nonce
        return response

    authenticate = AssertionCheck(client_key) if client_key is not None else check_client
    auth_method = "none" if client_key is None else "private_key_jwt"

    def password_grant(form: dict[str, str]) -> Issued:
        username, password = required(form, "username"), required(form, "password")
        if not _USER.fullmatch(username) or password != PASSWORD:
            raise OAuthError("invalid_grant", "wrong username or password")
        return Issued.pair(store.login(username, granted_scope(form)))

    async def refresh_grant(form: dict[str, str]) -> Issued:
        presented = required(form, "refresh_token")
        token = store.find(presented)
        if token is not None and set(form.get("scope", token.family.scope).split()) != set(
            token.family.scope.split()
        ):
            raise OAuthError("invalid_scope", "a refresh keeps the scope of the grant")
        outcome = await behaviour.refresh(presented)
        if isinstance(outcome, Rejected):
            raise OAuthError("invalid_grant", outcome.description)
        return outcome

    async def token_endpoint(request: Request) -> Response:
        try:
            form = await read_form(request)
            authenticate(request, form)
            grant_type = required(form, "grant_type")
            jkt = proven(request) if proven is not None else None
            if grant_type == "password":
                return bind(password_grant(form), jkt)
            if grant_type == "refresh_token":
                if waf_every and next(refreshes) % waf_every == 0:
                    return Response(_BLOCKED, status_code=403, media_type="text/html")
                if jkt is not None and bound.get(form.get("refresh_token", "")) != jkt:
                    raise OAuthError("invalid_grant", "refresh token bound to another key")
                return bind(await refresh_grant(form), jkt)
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} not supported")
        except OAuthError as exc:
            return exc.response()

    async def revoke_endpoint(request: Request) -> Response:
        try:
            form = await read_form(request)
            authenticate(request, form)
            token = required(form, "token")
            if form.get("token_type_hint", _HINTS[0]) not in _HINTS:
                raise OAuthError("unsupported_token_type", "token_type_hint not supported")
        except OAuthError as exc:
            return exc.response()
        family = store.family_of(token)
        if family is not None:
            store.revoke(family)
        return Response(status_code=200, headers=_NO_STORE)

    async def me_endpoint(request: Request) -> Response:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        wanted = "bearer" if proven is None else "dpop"
        access = store.access_tokens.get(value) if scheme.lower() == wanted else None
        if proven is not None and access is not None:
            try:
                if bound.get(value) != proven(request, value):
                    access = None
            except OAuthError as exc:
                if exc.error == "use_dpop_nonce":  # RFC 9449 section 9: a 401 challenge
                    challenge = {"WWW-Authenticate": 'DPoP error="use_dpop_nonce"'}
                    return Response(status_code=401, headers={**challenge, **exc.headers})
                access = None
        if access is None or not access.live:
            return JSONResponse(
                {"error": "invalid_token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        behaviour.used(value)
        answer = JSONResponse({"sub": access.family.user, "scope": access.family.scope})
        return with_nonce(answer, "/api/me")

    async def metadata_endpoint(request: Request) -> Response:
        base = f"{request.url.scheme}://{request.url.netloc}"
        metadata = {
            "issuer": base,
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "grant_types_supported": ["password", "refresh_token"],
            "token_endpoint_auth_methods_supported": [auth_method],
            "revocation_endpoint_auth_methods_supported": [auth_method],
            "scopes_supported": sorted(SCOPES),
        }
        if store.signer is not None:
            metadata["jwks_uri"] = f"{base}/jwks"
        return JSONResponse(metadata)

    async def jwks_endpoint(request: Request) -> Response:
        if store.signer is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(store.signer.jwks())

    async def health_endpoint(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/.well-known/oauth-authorization-server", metadata_endpoint, methods=["GET"]),
            Route("/oauth/token", token_endpoint, methods=["POST"]),
            Route("/oauth/revoke", revoke_endpoint, methods=["POST"]),
            Route("/api/me", me_endpoint, methods=["GET"]),
            Route("/jwks", jwks_endpoint, methods=["GET"]),
            Route("/healthz", health_endpoint, methods=["GET"]),
        ]
    )
