"""A JSON auth API in the style of a typical Express app, with a rotation bug of its own.

It is a second, independent target: the tester must catch its bugs without knowing anything
about it beyond the scenario file. Nineteen variants:

- ``body``: ``POST /auth/refresh`` with ``{"refreshToken": ...}`` answers
  ``{"accessToken", "refreshToken"}``. Its bug is the classic one: the handler looks the token up,
  awaits the "database", then writes the successor, so concurrent refreshes all pass the check and
  each mint a different successor (a fork).
- ``bearer``: as ``body``, bug included, but the refresh and the logout take the refresh token
  as ``Authorization: Bearer ...`` (as flask-jwt-extended does), with no body.
- ``both``: as ``body``, bug included, but the refresh wants the access token back beside the
  refresh token, ``{"accessToken", "refreshToken"}``, and refuses one of another session (as
  ASP.NET apps that read the user from the expired access token do).
- ``form``: as ``body``, bug included, but the login is form-encoded, ``username`` and
  ``password``, as FastAPI's OAuth2 password form.
- ``cookie``: the refresh token travels in the HttpOnly cookie ``rt``. Its bug is the opposite:
  strict reuse detection with no grace, so when two tabs refresh at once the loser is treated as
  a thief and the whole family is revoked (the user is logged out), although the app documents
  a 10 s multi-tab grace window.
- ``cookies``: as ``cookie``, bug included, but the access token is a cookie too (``at``, sent
  back as a cookie to the API), the login and refresh answer ``{"ok": true}``, and both cookies
  are partitioned (``Partitioned; Priority=High; SameSite=None; Secure``, as an app embedded in
  another site sets them).
- ``csrf``: the refresh token in the cookie ``rt``, with a double-submit CSRF defence: the login
  and each refresh also set a readable ``XSRF-TOKEN`` cookie whose value is bound to the refresh
  token issued with it, and the refresh and the logout answer 403 unless ``X-XSRF-TOKEN``
  equals both that cookie and the value bound to the token presented (as when the CSRF value is
  a claim of the token, flask-jwt-extended's way). Its bug is ``body``'s fork.
- ``csrf-body``: as ``csrf``, but with a synchronizer token: the value bound to the refresh token
  is answered in the body, ``{"accessToken", "csrfToken"}``, and must come back as
  ``X-CSRF-Token`` (no CSRF cookie). Its bug is ``body``'s fork too.
- ``csrf-login``: as ``csrf``, but the login wants the double submit too, the way Django's,
  Spring Security's and Laravel's do: ``GET /auth/csrf`` hands out an ``XSRF-TOKEN``, the login
  refuses (403) any value it did not hand out, and sets a new one for the session, which its
  refreshes keep (they set none). Its bug is ``body``'s fork too.
- ``session``: as ``body``, bug included, but the login also starts an express-session: an
  HttpOnly ``sid`` cookie, set again by every refresh (a rolling session), without which the
  refresh, the logout and the API answer 401 (a session is bound to the family it logged in).
- ``csurf``: the refresh token in the cookie ``rt``, guarded the way the csurf middleware guards
  every POST: ``GET /auth/csrf`` sets a secret in the HttpOnly cookie ``_csrf`` and answers
  ``{"csrfToken"}``, a value derived from that secret (not the cookie's value), which the login,
  the refresh and the logout must send as ``X-CSRF-Token`` with the secret's cookie, or get
  403. Its bug is ``body``'s fork too.
- ``csrf-rotate``: as ``csurf``, but the way Spring Security keeps its CSRF token in the session:
  ``GET /auth/csrf`` answers the session's token as Spring's ``CsrfToken`` JSON,
  ``{"token", "headerName": "X-CSRF-TOKEN", "parameterName"}``, and starts a session (``sid``)
  if there is none; the login, guarded by it, replaces the session and its token (session
  fixation protection), so the refreshes want the new token, which only a second ``GET
  /auth/csrf`` hands out. Its bug is ``body``'s fork too.
- ``guarded-logout``: as ``body``, bug included, but the logout is an authenticated route, as
  in a NestJS app behind its JWT guard or a Rails app's ``DELETE /users/sign_out``: ``DELETE
  /auth/logout`` (405 to a POST) with the access token as ``Authorization: Bearer`` (401
  without), which revokes the access token's family.
- ``gateway``: as ``body``, bug included, behind a gateway that wants an API key: every route
  answers 401 ``{"message": "No API key found in request"}`` (Kong's key-auth, as in front of
  Supabase) unless the request carries ``apikey: demo-anon-key`` (``/healthz`` needs none).
- ``origin-checked``: as ``body``, bug included, behind an origin check as Django's CSRF
  middleware makes over HTTPS (and SvelteKit's and Hono's for forms): a POST or DELETE whose
  ``Origin`` is not the server's own answers 403 ``{"detail": "CSRF Failed: Origin checking
  failed ..."}``, as one without any does (a browser always sends it).
- ``redirects``: a server-rendered app's session, as Django's, Rails' and Laravel's are: both
  tokens are cookies (``at``, ``rt``), the login is a form, and the login and the refresh
  answer ``302 Location: /`` with the new cookies (Post/Redirect/Get), the logout ``303
  Location: /login`` with both cleared. Its bug is ``body``'s fork.
- ``scoped-cookie``: the refresh token in the cookie ``rt``, set for ``Path=/auth/refresh``
  only, as guides advise to keep it off every other request; the refresh rotates correctly (no
  fork, no grace). Its bug: the logout at ``/auth/logout`` revokes the token in the ``rt`` it is
  sent, and a browser sends it none there, so it only clears the cookie (a 204 all the same)
  and the refresh token keeps working.

- ``get-routes``: as ``cookie``, bug included, but the refresh and the logout are GET routes
  that read the cookie ``rt`` (``router.get("/refresh", ...)``, as the most copied Express
  tutorial on refresh-token rotation has them); a POST to either answers 405.

- ``nested-login``: as ``body``, bug included, but the login answers ``{"user", "tokens":
  {"accessToken", "refreshToken"}}`` and the refresh the tokens alone, at the top.

Run: ``python -m tests.targets.express_style --variant body --port 8123``; with
``EXPRESS_TOKEN_LOG=PATH`` set, every issued token is appended to PATH (a test hook).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

USERS = {f"user{n}@example.com" for n in range(10_000)}
VARIANTS = (
    "body",
    "bearer",
    "both",
    "form",
    "cookie",
    "cookies",
    "csrf",
    "csrf-body",
    "csrf-login",
    "session",
    "csurf",
    "csrf-rotate",
    "guarded-logout",
    "gateway",
    "origin-checked",
    "redirects",
    "scoped-cookie",
    "get-routes",
    "nested-login",
)
GATEWAY_KEY = "demo-anon-key"
# The variants whose refresh token travels in the cookie `rt`.
REFRESH_IN_COOKIE = frozenset(
    {
        "cookie",
        "cookies",
        "csrf",
        "csrf-body",
        "csrf-login",
        "csurf",
        "csrf-rotate",
        "redirects",
        "scoped-cookie",
        "get-routes",
    }
)


@dataclass
class Family:
    user: str
    current: str
    used: set[str] = field(default_factory=set)
    revoked: bool = False
    csrf: str | None = None  # csrf-login: the value its login set
    session: str | None = None  # session: its express-session id


@dataclass
class Store:
    families: dict[str, Family] = field(default_factory=dict)
    by_token: dict[str, str] = field(default_factory=dict)
    access: dict[str, str] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)  # refresh token -> its CSRF value
    handed_out: set[str] = field(default_factory=set)  # csrf-login: values GET /auth/csrf gave
    sessions: dict[str, str] = field(default_factory=dict)  # csrf-rotate: sid -> its CSRF token
    # Test hook: every issued token is appended here, so a test can prove none leaks.
    token_log: str | None = None

    def issue(self, family_id: str) -> tuple[str, str]:
        refresh = secrets.token_urlsafe(24)
        access = secrets.token_urlsafe(24)
        self.by_token[refresh] = family_id
        self.access[access] = family_id
        self.csrf[refresh] = secrets.token_urlsafe(16)
        if self.token_log is not None:
            with open(self.token_log, "a", encoding="utf-8") as log:
                log.write(f"{refresh}\n{access}\n")
        return refresh, access


def partitioned_cookie(name: str, value: str, path: str) -> tuple[bytes, bytes]:
    """A ``Set-Cookie`` as Express writes ``res.cookie(name, value, {path, httpOnly: true,
    partitioned: true, priority: "high", sameSite: "none", secure: true})``: a partitioned
    (CHIPS) cookie, for an app embedded in another site."""
    attributes = "HttpOnly; Partitioned; Priority=High; SameSite=None; Secure"
    return b"set-cookie", f"{name}={value}; Path={path}; {attributes}".encode()


def build_app(variant: str, token_log: str | None = None) -> Starlette:
    store = Store(token_log=token_log)

    def tokens_response(refresh: str, access: str, user: str | None = None) -> Response:
        if variant == "nested-login" and user is not None:  # the login's answer only
            tokens = {"accessToken": access, "refreshToken": refresh}
            return JSONResponse({"user": {"email": user}, "tokens": tokens})
        if variant == "redirects":
            response = Response(status_code=302, headers={"location": "/"})
            response.set_cookie("at", access, httponly=True, samesite="lax")
            response.set_cookie("rt", refresh, httponly=True, samesite="lax", path="/auth")
            return response
        if variant == "cookies":
            response = JSONResponse({"ok": True})
            response.raw_headers.append(partitioned_cookie("at", access, "/"))
            response.raw_headers.append(partitioned_cookie("rt", refresh, "/auth"))
            return response
        if variant == "csrf-body":
            response = JSONResponse({"accessToken": access, "csrfToken": store.csrf[refresh]})
            response.set_cookie("rt", refresh, httponly=True, samesite="strict", path="/auth")
            return response
        if variant == "csrf-login":
            response = JSONResponse({"accessToken": access})
            response.set_cookie("rt", refresh, httponly=True, samesite="strict", path="/auth")
            return response
        if variant == "scoped-cookie":
            response = JSONResponse({"accessToken": access, "expiresIn": 900})
            response.set_cookie("rt", refresh, httponly=True, path="/auth/refresh")
            return response
        if variant in ("cookie", "csrf", "csurf", "csrf-rotate", "get-routes"):
            response = JSONResponse({"accessToken": access, "expiresIn": 900})
            response.set_cookie("rt", refresh, httponly=True, samesite="strict", path="/auth")
            if variant == "csrf":  # readable by the page's script, which echoes it
                response.set_cookie("XSRF-TOKEN", store.csrf[refresh], samesite="strict")
            return response
        return JSONResponse({"accessToken": access, "refreshToken": refresh, "expiresIn": 900})

    def derived(secret: str) -> str:
        """csurf's token for a secret: a salted hash of it (here: a keyed digest)."""
        return hashlib.sha256(f"csurf:{secret}".encode()).hexdigest()[:32]

    async def handout(request: Request) -> Response:
        if variant == "csrf-rotate":
            sid = request.cookies.get("sid", "")
            if sid not in store.sessions:
                sid = secrets.token_urlsafe(18)
                store.sessions[sid] = secrets.token_urlsafe(16)
            body = {"token": store.sessions[sid], "headerName": "X-CSRF-TOKEN",
                    "parameterName": "_csrf"}  # fmt: skip
            response = JSONResponse(body)
            response.set_cookie("sid", sid, httponly=True)
            return response
        if variant == "csurf":
            secret = request.cookies.get("_csrf") or secrets.token_urlsafe(18)
            response = JSONResponse({"csrfToken": derived(secret)})
            response.set_cookie("_csrf", secret, httponly=True, samesite="strict")
            return response
        value = secrets.token_urlsafe(16)
        store.handed_out.add(value)
        response = JSONResponse({"ok": True})
        response.set_cookie("XSRF-TOKEN", value, samesite="strict")
        return response

    def unguarded(request: Request) -> bool:
        """Whether a ``csurf`` POST lacks the token derived from its secret cookie, or a
        ``csrf-rotate`` one its session's token."""
        sent = request.headers.get("x-csrf-token")
        if variant == "csrf-rotate":
            return not sent or sent != store.sessions.get(request.cookies.get("sid", ""))
        secret = request.cookies.get("_csrf")
        return variant == "csurf" and not (secret and sent == derived(secret))

    def sessionless(request: Request, family_id: str | None) -> bool:
        """Whether a ``session`` request comes without the session its family logged in."""
        family = store.families.get(family_id or "")
        sid = request.cookies.get("sid")
        return variant == "session" and (family is None or not sid or sid != family.session)

    async def login(request: Request) -> Response:
        if unguarded(request):
            return JSONResponse({"message": "invalid csrf token"}, status_code=403)
        if variant == "csrf-login":
            echoed = request.headers.get("x-xsrf-token")
            if echoed not in store.handed_out or echoed != request.cookies.get("XSRF-TOKEN"):
                return JSONResponse({"message": "CSRF token mismatch"}, status_code=403)
        if variant in ("form", "redirects"):
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            body = {"email": form.get("username"), "password": form.get("password")}
        else:
            body = await request.json()
        if body.get("email") not in USERS or body.get("password") != "hunter2":
            return JSONResponse({"message": "Invalid credentials"}, status_code=401)
        family_id = secrets.token_hex(8)
        refresh, access = store.issue(family_id)
        store.families[family_id] = Family(user=body["email"], current=refresh)
        response = tokens_response(refresh, access, body["email"])
        if variant == "csrf-login":  # a new value for the session, as Django's login rotates it
            store.families[family_id].csrf = secrets.token_urlsafe(16)
            response.set_cookie("XSRF-TOKEN", store.families[family_id].csrf, samesite="strict")
        if variant == "session":
            store.families[family_id].session = secrets.token_urlsafe(18)
            response.set_cookie("sid", store.families[family_id].session, httponly=True)
        if variant == "csrf-rotate":  # a new session, and a new token, for the logged-in user
            store.sessions.pop(request.cookies.get("sid", ""), None)
            sid = secrets.token_urlsafe(18)
            store.sessions[sid] = secrets.token_urlsafe(16)
            response.set_cookie("sid", sid, httponly=True)
        return response

    def forged(request: Request, token: str | None) -> bool:
        """Whether a ``csrf`` request fails the double submit for the token it presents."""
        bound = store.csrf.get(token or "")
        if variant == "csrf-login":  # the session's value, set at its login
            family = store.families.get(store.by_token.get(token or "", ""))
            bound = family.csrf if family is not None else None
        if variant == "csrf-body":
            return not bound or request.headers.get("x-csrf-token") != bound
        echoed = request.headers.get("x-xsrf-token")
        return variant in ("csrf", "csrf-login") and not (
            echoed and echoed == request.cookies.get("XSRF-TOKEN") and echoed == bound
        )

    async def presented(request: Request) -> str | None:
        if variant in REFRESH_IN_COOKIE:
            return request.cookies.get("rt")
        if variant == "bearer":
            header = request.headers.get("authorization", "")
            return header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
        return (await request.json()).get("refreshToken")

    async def refresh(request: Request) -> Response:
        token = await presented(request)
        if forged(request, token):
            return JSONResponse({"message": "CSRF token mismatch"}, status_code=403)
        if unguarded(request):
            return JSONResponse({"message": "invalid csrf token"}, status_code=403)
        family_id = store.by_token.get(token or "")
        if sessionless(request, family_id):
            return JSONResponse({"message": "No session"}, status_code=401)
        if variant == "both":
            access = (await request.json()).get("accessToken")
            if family_id is None or store.access.get(access or "") != family_id:
                return JSONResponse({"message": "Invalid access token"}, status_code=401)
        if family_id is None:
            return JSONResponse({"message": "Invalid refresh token"}, status_code=401)
        family = store.families[family_id]
        if family.revoked:
            return JSONResponse({"message": "Session revoked"}, status_code=401)
        if variant in ("cookie", "cookies", "get-routes"):
            if token in family.used:
                family.revoked = True  # reuse detected, no grace: log everyone out
                return JSONResponse({"message": "Token reuse detected"}, status_code=401)
            family.used.add(token)
        elif token != family.current:
            return JSONResponse({"message": "Refresh token already used"}, status_code=401)
        if variant != "scoped-cookie":  # its check and its write are one step
            await asyncio.sleep(0.003)  # "SELECT ... " then "UPDATE ..." without a lock
        new_refresh, access = store.issue(family_id)
        family.current = new_refresh
        response = tokens_response(new_refresh, access)
        if variant == "session":  # rolling: every answer sets the session's cookie again
            response.set_cookie("sid", family.session or "", httponly=True)
        return response

    async def logout(request: Request) -> Response:
        if variant == "guarded-logout":
            access = request.headers.get("authorization", "").removeprefix("Bearer ")
            if access not in store.access:
                return JSONResponse({"message": "Unauthorized"}, status_code=401)
            store.families[store.access[access]].revoked = True
            return Response(status_code=204)
        token = await presented(request)
        if forged(request, token):
            return JSONResponse({"message": "CSRF token mismatch"}, status_code=403)
        if unguarded(request):
            return JSONResponse({"message": "invalid csrf token"}, status_code=403)
        family_id = store.by_token.get(token or "")
        if sessionless(request, family_id):
            return JSONResponse({"message": "No session"}, status_code=401)
        if family_id is not None:
            store.families[family_id].revoked = True
        if variant == "scoped-cookie":  # cleared where it was set: it could not be read here
            response = Response(status_code=204)
            response.delete_cookie("rt", path="/auth/refresh")
            return response
        if variant == "redirects":  # signed out: on to the sign-in page, the cookies cleared
            response = Response(status_code=303, headers={"location": "/login"})
            response.delete_cookie("at")
            response.delete_cookie("rt", path="/auth")
            return response
        return Response(status_code=204)

    async def profile(request: Request) -> Response:
        if variant in ("cookies", "redirects"):
            access = request.cookies.get("at", "")
        else:
            access = request.headers.get("authorization", "").removeprefix("Bearer ")
        family_id = store.access.get(access)
        if sessionless(request, family_id):
            return JSONResponse({"message": "No session"}, status_code=401)
        if family_id is None or store.families[family_id].revoked:
            return JSONResponse({"message": "Unauthorized"}, status_code=401)
        return JSONResponse({"email": store.families[family_id].user, "ts": time.time()})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def keyed(request: Request, call_next: RequestResponseEndpoint) -> Response:
        """The gateway: no route without the API key, but its own health check."""
        if request.url.path != "/healthz" and request.headers.get("apikey") != GATEWAY_KEY:
            return JSONResponse({"message": "No API key found in request"}, status_code=401)
        return await call_next(request)

    async def same_origin(request: Request, call_next: RequestResponseEndpoint) -> Response:
        """The origin check: a state-changing request must come from the server's own origin."""
        own = f"{request.url.scheme}://{request.url.netloc}"
        sent = request.headers.get("origin", "null")
        if request.method in ("POST", "DELETE") and sent != own:
            detail = (
                f"CSRF Failed: Origin checking failed - {sent} does not match any trusted origins."
            )
            return JSONResponse({"detail": detail}, status_code=403)
        return await call_next(request)

    guards = {"gateway": keyed, "origin-checked": same_origin}
    logout_method = {"guarded-logout": "DELETE", "get-routes": "GET"}.get(variant, "POST")
    return Starlette(
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=guards[variant])]
        if variant in guards
        else [],
        routes=[
            Route("/auth/csrf", handout, methods=["GET"]),
            Route("/auth/login", login, methods=["POST"]),
            Route("/auth/refresh", refresh, methods=["GET" if variant == "get-routes" else "POST"]),
            Route("/auth/logout", logout, methods=[logout_method]),
            Route("/api/profile", profile, methods=["GET"]),
            Route("/healthz", health, methods=["GET"]),
        ],
    )


body_app = build_app("body", os.environ.get("EXPRESS_TOKEN_LOG"))
cookie_app = build_app("cookie", os.environ.get("EXPRESS_TOKEN_LOG"))
bearer_app = build_app("bearer", os.environ.get("EXPRESS_TOKEN_LOG"))
cookies_app = build_app("cookies", os.environ.get("EXPRESS_TOKEN_LOG"))
both_app = build_app("both", os.environ.get("EXPRESS_TOKEN_LOG"))
form_app = build_app("form", os.environ.get("EXPRESS_TOKEN_LOG"))
csrf_app = build_app("csrf", os.environ.get("EXPRESS_TOKEN_LOG"))
csrf_body_app = build_app("csrf-body", os.environ.get("EXPRESS_TOKEN_LOG"))
csrf_login_app = build_app("csrf-login", os.environ.get("EXPRESS_TOKEN_LOG"))
session_app = build_app("session", os.environ.get("EXPRESS_TOKEN_LOG"))
csurf_app = build_app("csurf", os.environ.get("EXPRESS_TOKEN_LOG"))
csrf_rotate_app = build_app("csrf-rotate", os.environ.get("EXPRESS_TOKEN_LOG"))
guarded_logout_app = build_app("guarded-logout", os.environ.get("EXPRESS_TOKEN_LOG"))
gateway_app = build_app("gateway", os.environ.get("EXPRESS_TOKEN_LOG"))
origin_checked_app = build_app("origin-checked", os.environ.get("EXPRESS_TOKEN_LOG"))
redirects_app = build_app("redirects", os.environ.get("EXPRESS_TOKEN_LOG"))
scoped_cookie_app = build_app("scoped-cookie", os.environ.get("EXPRESS_TOKEN_LOG"))
get_routes_app = build_app("get-routes", os.environ.get("EXPRESS_TOKEN_LOG"))
nested_login_app = build_app("nested-login", os.environ.get("EXPRESS_TOKEN_LOG"))


def main() -> None:
    from granian import Granian
    from granian.constants import Interfaces

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--variant",
        choices=VARIANTS,
        default="body",
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ssl-cert", type=Path, help="serve https with this certificate")
    parser.add_argument("--ssl-key", type=Path, help="and this key")
    args = parser.parse_args()
    Granian(
        f"tests.targets.express_style:{args.variant.replace('-', '_')}_app",
        address="127.0.0.1",
        port=args.port,
        interface=Interfaces.ASGI,
        ssl_cert=args.ssl_cert,
        ssl_key=args.ssl_key,
    ).serve()


if __name__ == "__main__":
    main()
