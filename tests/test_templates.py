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
