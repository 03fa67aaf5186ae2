"""The Starlette application: OAuth 2.0 token, revocation, metadata, JWKS and a protected API.

Why this module exists: it turns HTTP requests into calls on the store and the rotation policy
and back into RFC-shaped responses. Concurrency control lives entirely in ``strategies``; this
module is identical for every strategy.

Endpoints: ``GET /.well-known/oauth-authorization-server`` (RFC 8414), ``GET
/.well-known/jwks.json``, ``POST /oauth/token`` (``password`` for users ``user<N>`` with password
``password``, and ``refresh_token``), ``POST /oauth/revoke`` (RFC 7009, revokes the family),
``GET /api/me`` (Bearer JWT), ``GET /healthz``, ``GET /metrics``.

Token and revocation responses carry ``X-Arrival-Ns``: ``time.monotonic_ns()`` when the server
had the whole request body, for burst calibration (comparable only within one host).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
import jwt
import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .keyring import KeyRing
from .logs import configure_logging
from .metrics import Metrics
from .middleware import LOG_SCOPE_KEY, QUIET_KEY, RequestLogMiddleware, access_log_enabled
from .oauth import BodyReader, Form, OAuthError, authenticate_client, error_response
from .redis_link import RedisLink, StoreUnavailable
from .rotation import Outcome
from .settings import Settings
from .store import LockTimeout, TokenStore
from .strategies import create_store
from .tokens import (
    SigningKey,
    fingerprint,
    generate_private_key_pem,
    parse_refresh_token,
    token_hash,
)

__all__ = ["DEMO_PASSWORD", "SCOPES", "create_app"]

DEMO_PASSWORD = "password"
SCOPES = frozenset({"api", "profile", "offline_access"})
_DEFAULT_SCOPE = "api"
_USER_RE = re.compile(r"user[0-9]{1,9}")  # full matches only
_BEARER_RE = re.compile(r"[A-Za-z0-9_.~+/=-]+")
_RETRY_AFTER = "1"
_GRANT_TYPES = frozenset({"password", "refresh_token"})
logger = logging.getLogger("reference_server.app")

_REFRESH_ERRORS = {
    Outcome.SUPERSEDED: "refresh token already rotated by a concurrent request",
    Outcome.REUSE_DETECTED: "refresh token reuse detected; the token family is revoked",
    Outcome.FAMILY_REVOKED: "the token family is revoked",
    Outcome.UNKNOWN_TOKEN: "unknown or expired refresh token",
    Outcome.WRONG_CLIENT: "refresh token was issued to another client",
}


class _State:
    """Per-process objects owned by the lifespan."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.bodies = BodyReader(
            limit=settings.max_body_bytes,
            timeout_s=settings.body_timeout,
            max_waiting=settings.max_concurrent_requests // 4,
        )
        self.store: TokenStore | None = None
        self.keyring: KeyRing | None = None


def _state(request: Request) -> tuple[_State, TokenStore, KeyRing]:
    state: _State = request.app.state.ref
    if state.store is None or state.keyring is None:
        raise StoreUnavailable("server is starting")
    return state, state.store, state.keyring


def _log(request: Request, **fields: Any) -> None:
    if access_log_enabled():
        request.scope.setdefault(LOG_SCOPE_KEY, {}).update(fields)


def _refused(request: Request, exc: OAuthError, arrival: dict[str, str]) -> Response:
    """The error response of a refused request; the access line keeps the outcome the
    request logged already (``reuse_detected`` says more than ``invalid_grant``)."""
    if access_log_enabled():
        fields = request.scope.setdefault(LOG_SCOPE_KEY, {})
        fields.setdefault("outcome", exc.error)
        if exc.quiet:
            fields[QUIET_KEY] = True
    return error_response(exc, arrival)


def _scope(requested: str | None, allowed: frozenset[str], default: str) -> str:
    if requested is None:
        return default
    parts = requested.split()
    if not parts or not set(parts) <= allowed:
        raise OAuthError(400, "invalid_scope", "requested scope is not allowed")
    return " ".join(sorted(set(parts)))


async def _narrowed_scope(store: TokenStore, family_id: str, requested: str | None) -> str | None:
    """RFC 6749 §6: a refresh may ask for part of the granted scope for its access token.

    Checked before the refresh changes anything, so a refused scope leaves the token usable;
    a grant's scope never changes, so reading it first is not a race. None: no narrowing.
    """
    if requested is None:
        return None
    asked = _scope(requested, SCOPES, "")
    granted = await store.granted_scope(family_id)
    if granted is not None and not set(asked.split()) <= set(granted.split()):
        raise OAuthError(400, "invalid_scope", "requested scope exceeds the granted scope")
    return asked


def _token_response(
    state: _State,
    key: SigningKey,
    *,
    subject: str,
    family_id: str,
    scope: str,
    client_id: str,
    refresh_token: str,
    arrival_ns: int,
) -> Response:
    settings = state.settings
    access = key.issue(
        subject=subject,
        family_id=family_id,
        scope=scope,
        client_id=client_id,
        ttl=settings.access_ttl,
        issuer=settings.issuer,
        audience=settings.audience,
    )
    body: dict[str, str | int] = {
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": settings.access_ttl,
        "refresh_token": refresh_token,
        "scope": scope,
    }
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache", "X-Arrival-Ns": str(arrival_ns)}
    # msgspec: the same compact JSON as JSONResponse's json.dumps, several times faster.
    return Response(msgspec.json.encode(body), headers=headers, media_type="application/json")


async def token_endpoint(request: Request) -> Response:
    """RFC 6749 token endpoint: password and refresh_token grants."""
    state, store, keyring = _state(request)
    key = keyring.own
    arrival: dict[str, str] = {}
    try:
        form = await state.bodies.read_form(request)
        arrival["X-Arrival-Ns"] = str(form.arrival_ns)
        client_id = authenticate_client(request, form.fields)
        grant_type = form.fields.get("grant_type")
        # Only known values reach the log: a client may put anything there, even a token.
        logged = grant_type if grant_type in _GRANT_TYPES or grant_type is None else "other"
        _log(request, grant_type=logged, client_id=client_id)
        if grant_type == "password":
            return await _password_grant(
                request, state, store, key, form.fields, client_id, form.arrival_ns
            )
        if grant_type == "refresh_token":
            return await _refresh_grant(request, state, store, key, form, client_id)
        if grant_type is None:
            raise OAuthError(400, "invalid_request", "grant_type is required")
        raise OAuthError(400, "unsupported_grant_type", "supported: password, refresh_token")
    except OAuthError as exc:
        return _refused(request, exc, arrival)


async def _password_grant(
    request: Request,
    state: _State,
    store: TokenStore,
    key: SigningKey,
    fields: dict[str, str],
    client_id: str,
    arrival_ns: int,
) -> Response:
    username, password = fields.get("username"), fields.get("password")
    if username is None or password is None:
        raise OAuthError(400, "invalid_request", "username and password are required")
    if not _USER_RE.fullmatch(username) or password != DEMO_PASSWORD:
        raise OAuthError(400, "invalid_grant", "bad username or password")
    scope = _scope(fields.get("scope"), SCOPES, _DEFAULT_SCOPE)
    family_id, refresh_token = await store.create_family(
        subject=username, client_id=client_id, scope=scope
    )
    _log(request, outcome="login", family=fingerprint(family_id))
    return _token_response(
        state,
        key,
        subject=username,
        family_id=family_id,
        scope=scope,
        client_id=client_id,
        refresh_token=refresh_token,
        arrival_ns=arrival_ns,
    )


async def _refresh_grant(
    request: Request,
    state: _State,
    store: TokenStore,
    key: SigningKey,
    form: Form,
    client_id: str,
) -> Response:
    fields = form.fields
    presented = fields.get("refresh_token")
    if not presented:
        raise OAuthError(400, "invalid_request", "refresh_token is required")
    family_id = parse_refresh_token(presented)
    if family_id is None:
        state.metrics.inc("auth_ref_refresh_total", strategy=store.strategy, outcome="malformed")
        raise OAuthError(400, "invalid_grant", "malformed refresh token")
    narrowed = await _narrowed_scope(store, family_id, fields.get("scope"))
    result = await store.refresh(family_id, presented, client_id, form.arrival_ms)
    outcome = result.outcome
    state.metrics.inc("auth_ref_refresh_total", strategy=store.strategy, outcome=outcome.value)
    if result.fenced_out:
        state.metrics.inc("auth_ref_fenced_commits_rejected_total", result.fenced_out)
    if result.lock_wait_ms:
        state.metrics.inc("auth_ref_lock_wait_seconds_sum", result.lock_wait_ms / 1000)
        state.metrics.inc("auth_ref_lock_wait_seconds_count")
    if access_log_enabled():  # three hashes per refresh that only the access line needs
        _log(
            request,
            outcome=outcome.value,
            family=fingerprint(family_id),
            presented=fingerprint(token_hash(presented)),
            lock_wait_ms=round(result.lock_wait_ms, 3),
        )
    if not outcome.succeeded:
        if outcome is Outcome.REUSE_DETECTED:
            state.metrics.inc("auth_ref_reuse_detections_total", strategy=store.strategy)
            logger.warning(
                "reuse detected; family revoked", extra={"family": fingerprint(family_id)}
            )
        raise OAuthError(400, "invalid_grant", _REFRESH_ERRORS[outcome])
    return _token_response(
        state,
        key,
        subject=result.subject,
        family_id=family_id,
        scope=narrowed or result.scope,
        client_id=client_id,
        refresh_token=result.successor,
        arrival_ns=form.arrival_ns,
    )


async def revoke_endpoint(request: Request) -> Response:
    """RFC 7009: revoking a refresh (or access) token revokes its family; 200 for unknown."""
    state, store, keyring = _state(request)
    arrival: dict[str, str] = {}
    try:
        form = await state.bodies.read_form(request)
        arrival["X-Arrival-Ns"] = str(form.arrival_ns)
        client_id = authenticate_client(request, form.fields)
        token = form.fields.get("token")
        if not token:
            raise OAuthError(400, "invalid_request", "token is required")
        outcome = "unknown_token"
        family_id = parse_refresh_token(token)
        if family_id is not None:
            outcome = await store.revoke(family_id, token_hash(token), client_id)
        else:
            with contextlib.suppress(jwt.InvalidTokenError):
                claims = await keyring.verify(
                    token, issuer=state.settings.issuer, audience=state.settings.audience
                )
                family_id = str(claims["sid"])
                outcome = await store.revoke(family_id, None, client_id)
        state.metrics.inc("auth_ref_revocations_total", strategy=store.strategy, outcome=outcome)
        _log(request, outcome=outcome, family=fingerprint(family_id) if family_id else None)
        if outcome == "wrong_client":
            raise OAuthError(400, "unauthorized_client", "token was issued to another client")
        return Response(status_code=200, headers={"Cache-Control": "no-store", **arrival})
    except OAuthError as exc:
        return _refused(request, exc, arrival)


def _bearer_error(status: int, error: str | None, description: str) -> JSONResponse:
    challenge = 'Bearer realm="auth-stress"'
    body: dict[str, str] = {}
    if error:
        challenge += f', error="{error}", error_description="{description}"'
        body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers={"WWW-Authenticate": challenge})


async def me_endpoint(request: Request) -> Response:
    """Protected resource: a valid access token of a live family gets its claims back."""
    state, store, keyring = _state(request)
    header = request.headers.get("authorization")
    if header is None:
        _log(request, outcome="no_token")
        return _bearer_error(401, None, "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        _log(request, outcome="wrong_scheme")
        return _bearer_error(401, None, "")
    token = token.strip()
    if not token or not _BEARER_RE.fullmatch(token):
        _log(request, outcome="malformed_header")
        return _bearer_error(400, "invalid_request", "malformed Authorization header")
    try:
        claims = await keyring.verify(
            token, issuer=state.settings.issuer, audience=state.settings.audience
        )
    except jwt.InvalidTokenError as exc:
        _log(request, outcome="invalid_token", reason=type(exc).__name__)
        return _bearer_error(401, "invalid_token", "the access token is invalid or expired")
    family_id = str(claims["sid"])
    _log(request, family=fingerprint(family_id))
    if not await store.family_active(family_id):
        _log(request, outcome="family_revoked")
        return _bearer_error(401, "invalid_token", "the token family is revoked")
    _log(request, outcome="ok")
    keep = ("sub", "sid", "jti", "scope", "client_id", "iat", "exp")
    return JSONResponse({name: claims[name] for name in keep if name in claims})


async def metadata_endpoint(request: Request) -> Response:
    """RFC 8414 authorization server metadata, plus this server's rotation settings."""
    state: _State = request.app.state.ref
    base = f"{request.url.scheme}://{request.url.netloc}"
    settings = state.settings
    return JSONResponse(
        {
            "issuer": settings.issuer,
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "grant_types_supported": ["password", "refresh_token"],
            "response_types_supported": [],
            "scopes_supported": sorted(SCOPES),
            "token_endpoint_auth_methods_supported": [
                "none",
                "client_secret_basic",
                "client_secret_post",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "none",
                "client_secret_basic",
                "client_secret_post",
            ],
            "x_refresh_token_rotation": {
                "policy": "idempotent" if settings.grace_ms else "strict",
                "grace_seconds": settings.grace,
                "tolerance_seconds": settings.tolerance,
                "strategy": settings.strategy.value,
            },
        }
    )


async def jwks_endpoint(request: Request) -> Response:
    """The public signing keys of every live replica (RFC 7517); while Redis is out, the last
    set read from it, so that clients can still verify the tokens they hold."""
    _, _, keyring = _state(request)
    with contextlib.suppress(StoreUnavailable):
        await keyring.refresh()
    return JSONResponse(keyring.jwks(), headers={"Cache-Control": "public, max-age=60"})


async def healthz_endpoint(request: Request) -> Response:
    """Liveness only: does not touch Redis, so it is the pure HTTP baseline."""
    return JSONResponse({"status": "ok"})


async def metrics_endpoint(request: Request) -> Response:
    """Per-process counters in the Prometheus text format."""
    state: _State = request.app.state.ref
    return PlainTextResponse(state.metrics.render(), media_type="text/plain; version=0.0.4")


async def _unavailable(request: Request, exc: Exception) -> Response:
    state: _State = request.app.state.ref
    kind = "lock_timeout" if isinstance(exc, LockTimeout) else "redis_unavailable"
    name = (
        "auth_ref_lock_timeouts_total" if kind == "lock_timeout" else "auth_ref_redis_errors_total"
    )
    state.metrics.inc(name)
    _log(request, outcome=kind, error=f"{type(exc).__name__}: {exc}")
    logger.warning("temporarily unavailable", extra={"reason": kind, "error": str(exc)})
    err = OAuthError(
        503,
        "temporarily_unavailable",
        "token store unavailable; retry later",
        {"Retry-After": _RETRY_AFTER},
    )
    return error_response(err)


async def _internal_error(request: Request, exc: Exception) -> Response:
    body = {"error": "server_error", "error_description": "internal error"}
    return JSONResponse(body, status_code=500)


async def _load_key(settings: Settings) -> SigningKey:
    if settings.signing_key_path:
        pem = await anyio.Path(settings.signing_key_path).read_bytes()
        return SigningKey.from_pem(pem)
    return SigningKey.from_pem(generate_private_key_pem())


def create_app(settings: Settings | None = None) -> RequestLogMiddleware:
    """Build the ASGI app; without ``settings`` they are read from the environment (workers)."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    metrics = Metrics()
    ref = _State(settings, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        link = RedisLink(settings)
        store = create_store(settings, link)
        renewal: asyncio.Task[None] | None = None
        try:
            keyring = KeyRing(await _load_key(settings), link, settings.access_ttl)
            if not settings.inject_unpublished_key:
                try:
                    await keyring.publish()
                except StoreUnavailable as exc:  # the renewal task publishes once Redis is back
                    logger.warning("signing key not published yet", extra={"error": str(exc)})
                renewal = asyncio.create_task(keyring.keep_published())
            ref.keyring, ref.store = keyring, store
            logger.info(
                "started", extra={"strategy": settings.strategy.value, "kid": keyring.own.kid}
            )
            yield
        finally:
            ref.store = None
            if renewal is not None:
                renewal.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewal
            await link.close()

    app = Starlette(
        routes=[  # matched in order: the busiest first
            Route("/oauth/token", token_endpoint, methods=["POST"]),
            Route("/healthz", healthz_endpoint),
            Route("/api/me", me_endpoint),
            Route("/oauth/revoke", revoke_endpoint, methods=["POST"]),
            Route("/.well-known/jwks.json", jwks_endpoint),
            Route("/.well-known/oauth-authorization-server", metadata_endpoint),
            Route("/metrics", metrics_endpoint),
        ],
        exception_handlers={
            StoreUnavailable: _unavailable,
            LockTimeout: _unavailable,
            Exception: _internal_error,
        },
        lifespan=lifespan,
    )
    app.state.ref = ref
    return RequestLogMiddleware(app, strategy=settings.strategy.value, metrics=metrics)
