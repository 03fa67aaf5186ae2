"""Request templates: every secret a request carries becomes a shell placeholder."""

from __future__ import annotations

import msgspec

from stress.scenario import TargetSpec
from stress.target import Endpoints
from stress.templates import request_templates

ENDPOINTS = Endpoints(token=None, revocation=None, jwks=None, resource="/me")


def test_a_refresh_that_sends_both_tokens_shows_both_as_placeholders() -> None:
    both = {"accessToken": "{access_token}", "refreshToken": "{refresh_token}"}
    spec = msgspec.convert(
        {
            "kind": "json",
            "login": {"path": "/login", "json": {"u": "{username}", "p": "{password}"}},
            "refresh": {"path": "/refresh", "json": both},
        },
        TargetSpec,
    )
    templates = request_templates(
        spec, ENDPOINTS, "http://127.0.0.1:9/", frozenset({"refresh", "login"})
    )
    assert (
        templates["refresh"].body
        == '{"accessToken":"$ACCESS_TOKEN","refreshToken":"$REFRESH_TOKEN"}'
    )
    assert templates["login"].body == '{"u":"$USERNAME","p":"$PASSWORD"}'


def test_a_csrf_value_is_a_placeholder_in_its_cookie_and_header() -> None:
    spec = msgspec.convert(
        {
            "kind": "cookie",
            "refresh_cookie": "rt",
            "csrf_cookie": "XSRF-TOKEN",
            "csrf_preflight": "/csrf",
            "login": {"path": "/login", "headers": {"X-XSRF-TOKEN": "{csrf}"}},
            "refresh": {"path": "/refresh", "headers": {"X-XSRF-TOKEN": "{csrf}"}},
        },
        TargetSpec,
    )
    templates = request_templates(
        spec, ENDPOINTS, "http://127.0.0.1:9/", frozenset({"refresh", "login"})
    )
    assert ("x-xsrf-token", "$CSRF_TOKEN") in templates["login"].headers
    refresh = templates["refresh"]
    assert ("cookie", "rt=$REFRESH_TOKEN; XSRF-TOKEN=$CSRF_TOKEN") in refresh.headers
    assert ("x-xsrf-token", "$CSRF_TOKEN") in refresh.headers


def test_the_sessions_cookies_are_placeholders_named_after_them() -> None:
    spec = msgspec.convert(
        {
            "kind": "json",
            "session_cookies": ["connect.sid", "_csrf"],
            "login": {"path": "/login", "json": {"u": "{username}"}},
            "refresh": {"path": "/refresh", "json": {"rt": "{refresh_token}"}},
        },
        TargetSpec,
    )
    templates = request_templates(
        spec, ENDPOINTS, "http://127.0.0.1:9/", frozenset({"refresh", "login"})
    )
    cookie = ("cookie", "connect.sid=$COOKIE_CONNECT_SID; _csrf=$COOKIE__CSRF")
    assert cookie in templates["login"].headers
    assert cookie in templates["refresh"].headers
