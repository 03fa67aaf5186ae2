"""Target profiles: request building and response classification, for every target kind."""

from __future__ import annotations

import gzip
import json
import re
import zlib
from typing import Any
from urllib.parse import parse_qs

import msgspec
import pytest

from stress.errors import ScenarioError
from stress.scenario import TargetSpec
from stress.target import USER_AGENT, Endpoints, TargetProfile, json_path, set_cookies
from stress.wire import WireRequest, WireResponse

BASE = "http://127.0.0.1:9/"
ENDPOINTS = Endpoints(token="/oauth/token", revocation="/oauth/revoke", jwks=None, resource="/me")


def spec(**fields: object) -> TargetSpec:
    return msgspec.convert(fields, type=TargetSpec)


def response(
    status: int, body: object = None, headers: tuple[tuple[str, str], ...] = ()
) -> WireResponse:
    raw = json.dumps(body).encode() if body is not None else b""
    return WireResponse(status=status, headers=headers, body=raw, http_version="1.1")


def test_oauth2_refresh_is_form_encoded_with_client_id() -> None:
    profile = TargetProfile(spec(kind="oauth2", client_id="app"), ENDPOINTS)
    request = profile.refresh(BASE, "tok/+=")
    assert request.method == "POST"
    assert request.url == "http://127.0.0.1:9/oauth/token"
    assert dict(request.headers)["content-type"] == "application/x-www-form-urlencoded"
    form = parse_qs(request.body.decode())
    assert form == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["tok/+="],
        "client_id": ["app"],
    }


def test_oauth2_basic_client_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET", "s3:cr/t")
    profile = TargetProfile(
        spec(kind="oauth2", client_id="app", client_auth="basic", client_secret_env="SECRET"),
        ENDPOINTS,
    )
    request = profile.refresh(BASE, "tok")
    assert dict(request.headers)["authorization"].startswith("Basic ")
    assert "client_id" not in parse_qs(request.body.decode())


def test_oauth2_revoke_uses_rfc7009_form() -> None:
    request = TargetProfile(spec(kind="oauth2"), ENDPOINTS).revoke(BASE, "tok")
    assert request.url.endswith("/oauth/revoke")
    assert parse_qs(request.body.decode()) == {
        "token": ["tok"],
        "token_type_hint": ["refresh_token"],
    }


def test_json_template_substitutes_tokens() -> None:
    profile = TargetProfile(
        spec(
            kind="json",
            refresh={"path": "/auth/refresh", "json": {"refreshToken": "{refresh_token}"}},
            access_token_path="data.accessToken",
            refresh_token_path="data.refreshToken",
        ),
        ENDPOINTS,
    )
    request = profile.refresh(BASE, 'a"b')
    assert json.loads(request.body) == {"refreshToken": 'a"b'}
    parsed = profile.parse_tokens(
        response(200, {"data": {"accessToken": "A", "refreshToken": "R"}})
    )
    assert parsed.outcome == "ok"
    assert parsed.tokens is not None
    assert (parsed.tokens.access, parsed.tokens.refresh) == ("A", "R")


def test_cookie_target_sends_and_reads_cookie() -> None:
    profile = TargetProfile(
        spec(
            kind="cookie",
            refresh={"path": "/auth/refresh"},
            refresh_cookie="rt",
            access_token_path="accessToken",
        ),
        ENDPOINTS,
    )
    request = profile.refresh(BASE, "old")
    assert ("cookie", "rt=old") in request.headers
    answer = response(
        200,
        {"accessToken": "A"},
        (("set-cookie", "other=x; Path=/"), ("set-cookie", "rt=new; HttpOnly; Path=/auth")),
    )
    parsed = profile.parse_tokens(answer)
    assert parsed.tokens is not None
    assert parsed.tokens.refresh == "new"
    cleared = response(200, {"accessToken": "A"}, (("set-cookie", "rt=; Max-Age=0"),))
    tokens = profile.parse_tokens(cleared).tokens
    assert tokens is not None
    assert tokens.refresh is None


def test_a_custom_refresh_may_send_the_access_token_back_too() -> None:
    both = {"accessToken": "{access_token}", "refreshToken": "{refresh_token}"}
    profile = TargetProfile(
        spec(
            kind="json",
            refresh={"path": "/refresh", "json": both},
            revoke={"path": "/out", "json": both},
        ),
        ENDPOINTS,
    )
    assert json.loads(profile.refresh(BASE, "R", "A").body) == {
        "accessToken": "A",
        "refreshToken": "R",
    }
    assert json.loads(profile.revoke(BASE, "R", "A").body) == {
        "accessToken": "A",
        "refreshToken": "R",
    }
    assert json.loads(profile.refresh(BASE, "R").body) == {"accessToken": "", "refreshToken": "R"}


def test_an_access_token_in_a_cookie_is_read_from_it_and_sent_back_as_one() -> None:
    profile = TargetProfile(
        spec(
            kind="cookie",
            refresh={"path": "/auth/refresh"},
            refresh_cookie="rt",
            access_cookie="at",
        ),
        ENDPOINTS,
    )
    answer = response(
        200, {"ok": True}, (("set-cookie", "at=A; HttpOnly"), ("set-cookie", "rt=R; Path=/auth"))
    )
    tokens = profile.parse_tokens(answer).tokens
    assert tokens is not None
    assert (tokens.access, tokens.refresh) == ("A", "R")
    use = profile.use(BASE, "A")
    assert ("cookie", "at=A") in use.headers
    assert not any(name == "authorization" for name, _ in use.headers)
    missing = profile.parse_tokens(response(200, {"accessToken": "A"}, (("set-cookie", "rt=R"),)))
    assert (missing.outcome, missing.error) == (
        "info",
        "malformed-response: no access token in 2xx cookie",
    )


@pytest.mark.parametrize(
    ("status", "body", "outcome", "error"),
    [
        (400, {"error": "invalid_grant"}, "fail", "invalid_grant"),
        (403, {"error": "invalid_grant"}, "fail", "invalid_grant"),  # as Auth0 refuses
        # No RFC 6749 error: not the token endpoint's verdict (a WAF's 403, a gateway's).
        (401, {"message": "nope"}, "info", "no-oauth-error"),
        (403, None, "info", "no-oauth-error"),
        (302, None, "info", "no-oauth-error"),
        (429, None, "fail", "http-429"),  # a demand to wait stays one
        (500, None, "info", "http-500"),
        (503, {"error": "temporarily_unavailable"}, "info", "temporarily_unavailable"),
        (408, None, "info", "http-408"),
    ],
)
def test_status_classification(status: int, body: object, outcome: str, error: str) -> None:
    parsed = TargetProfile(spec(kind="oauth2"), ENDPOINTS).parse_tokens(response(status, body))
    assert (parsed.outcome, parsed.error) == (outcome, error)


@pytest.mark.parametrize(("status", "body"), [(401, {"message": "nope"}), (403, None)])
def test_a_custom_api_refuses_with_any_4xx(status: int, body: object) -> None:
    custom = spec(kind="json", login={"path": "/login"}, refresh={"path": "/refresh"})
    parsed = TargetProfile(custom, ENDPOINTS).parse_tokens(response(status, body))
    assert (parsed.outcome, parsed.error) == ("fail", f"http-{status}")


def test_2xx_without_access_token_is_indeterminate() -> None:
    parsed = TargetProfile(spec(kind="oauth2"), ENDPOINTS).parse_tokens(response(200, {"x": 1}))
    assert parsed.outcome == "info"
    assert parsed.error is not None
    assert "malformed" in parsed.error


def test_oauth2_response_without_refresh_token_keeps_none() -> None:
    parsed = TargetProfile(spec(kind="oauth2"), ENDPOINTS).parse_tokens(
        response(200, {"access_token": "A", "token_type": "Bearer"})
    )
    assert parsed.tokens is not None
    assert parsed.tokens.refresh is None


def test_json_path_handles_arrays_and_missing() -> None:
    document = {"a": [{"b": "x"}]}
    assert json_path(document, "a.0.b") == "x"
    assert json_path(document, "a.1.b") is None
    assert json_path(document, "z") is None


def test_a_csrf_value_is_read_with_each_token_and_sent_back_as_cookie_and_header() -> None:
    echoed = {"X-XSRF-TOKEN": "{csrf}"}
    profile = TargetProfile(
        spec(
            kind="cookie",
            refresh={"path": "/auth/refresh", "headers": echoed},
            revoke={"path": "/auth/logout", "form": {"_csrf": "{csrf}"}},
            refresh_cookie="rt",
            access_token_path="accessToken",
            csrf_cookie="XSRF-TOKEN",
        ),
        ENDPOINTS,
    )
    answer = response(
        200,
        {"accessToken": "A"},
        (("set-cookie", "rt=R; HttpOnly"), ("set-cookie", "XSRF-TOKEN=C")),
    )
    tokens = profile.parse_tokens(answer).tokens
    assert tokens is not None
    assert (tokens.refresh, tokens.csrf) == ("R", "C")
    request = profile.refresh(BASE, "R", "A", "C")
    assert ("cookie", "rt=R; XSRF-TOKEN=C") in request.headers  # one header, as HTTP/1.1 wants
    assert ("x-xsrf-token", "C") in request.headers
    assert parse_qs(profile.revoke(BASE, "R", None, "C").body.decode()) == {"_csrf": ["C"]}
    unset = profile.parse_tokens(response(200, {"accessToken": "A"}, (("set-cookie", "rt=S"),)))
    assert unset.tokens is not None
    assert unset.tokens.csrf is None  # none set: the session keeps the one it has


def test_a_target_without_a_csrf_cookie_reads_none() -> None:
    profile = TargetProfile(
        spec(kind="cookie", refresh={"path": "/r"}, refresh_cookie="rt"), ENDPOINTS
    )
    answer = response(200, {"access_token": "A"}, (("set-cookie", "rt=R"), ("set-cookie", "c=C")))
    tokens = profile.parse_tokens(answer).tokens
    assert tokens is not None
    assert tokens.csrf is None
    assert ("cookie", "rt=R") in profile.refresh(BASE, "R", None, "ignored").headers


def test_a_synchronizer_csrf_token_is_read_from_the_body_and_sent_only_where_placed() -> None:
    profile = TargetProfile(
        spec(
            kind="json",
            refresh={"path": "/r", "json": {"rt": "{refresh_token}"}, "headers": {"X-C": "{csrf}"}},
            access_token_path="data.access",
            refresh_token_path="data.refresh",
            csrf_token_path="data.csrfToken",
        ),
        ENDPOINTS,
    )
    answer = response(200, {"data": {"access": "A", "refresh": "R", "csrfToken": "C"}})
    tokens = profile.parse_tokens(answer).tokens
    assert tokens is not None
    assert tokens.csrf == "C"
    request = profile.refresh(BASE, "R", "A", "C")
    assert ("x-c", "C") in request.headers
    assert not any(name == "cookie" for name, _ in request.headers)  # no double submit
    for missing in ({"access": "A", "refresh": "S"}, {"access": "A", "csrfToken": 7}):
        parsed = profile.parse_tokens(response(200, {"data": missing})).tokens
        assert parsed is not None
        assert parsed.csrf is None


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("sid=S; Path=/; HttpOnly", "S"),
        ("sid=S; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "S"),  # Max-Age wins
        ("sid=; Path=/", None),
        ("sid=S; Max-Age=0", None),
        ("sid=S; Expires=Thu, 01 Jan 1970 00:00:00 GMT", None),  # Express's clearCookie
    ],
)
def test_a_set_cookie_sets_its_value_or_clears_it(header: str, value: str | None) -> None:
    answer = response(200, {}, (("set-cookie", header), ("set-cookie", "other=x")))
    assert set_cookies(answer, {"sid"}) == {"sid": value}
    assert set_cookies(answer, {"third"}) == {}


def test_the_sessions_cookies_go_with_every_request_after_the_token_cookies() -> None:
    profile = TargetProfile(
        spec(
            kind="cookie",
            refresh_cookie="rt",
            session_cookies=["sid"],
            csrf_preflight="/csrf",
            csrf_token_path="csrfToken",
            login={"path": "/in", "json": {"u": "{username}"}, "headers": {"X-C": "{csrf}"}},
            refresh={"path": "/r", "headers": {"X-C": "{csrf}"}},
            revoke={"path": "/out", "headers": {"X-C": "{csrf}"}},
        ),
        ENDPOINTS,
    )
    jar = {"sid": "S"}
    assert ("cookie", "rt=R; sid=S") in profile.refresh(BASE, "R", None, "C", jar).headers
    assert ("cookie", "rt=R; sid=S") in profile.revoke(BASE, "R", None, "C", jar).headers
    assert ("cookie", "sid=S") in profile.login(BASE, "u", "p", 0, "C", jar).headers
    assert ("cookie", "sid=S") in profile.preflight(BASE, jar).headers
    use = profile.use(BASE, "A", jar).headers
    assert ("cookie", "sid=S") in use
    assert ("authorization", "Bearer A") in use
    assert not any(name == "cookie" for name, _ in profile.login(BASE, "u", "p", 0).headers)
    answer = response(
        200, {"access_token": "A"}, (("set-cookie", "rt=R2"), ("set-cookie", "sid=S2"))
    )
    assert profile.session_cookies(answer) == {"sid": "S2"}  # the token's cookie is not one


def test_an_oauth2_target_sends_the_sessions_cookies_beside_its_form() -> None:
    profile = TargetProfile(spec(kind="oauth2", session_cookies=["lb"]), ENDPOINTS)
    assert ("cookie", "lb=1") in profile.refresh(BASE, "R", cookies={"lb": "1"}).headers
    assert not any(name == "cookie" for name, _ in profile.refresh(BASE, "R").headers)


def test_the_headers_for_every_request_go_with_every_kind_of_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_KEY", "k1")
    fields = {"headers": {"X-Client": "v2"}, "headers_env": {"apikey": "GATEWAY_KEY"}}
    oauth = TargetProfile(spec(kind="oauth2", **fields), ENDPOINTS)
    custom = TargetProfile(
        spec(kind="json", refresh={"path": "/r", "json": {"t": "{refresh_token}"}},
             login={"path": "/in", "headers": {"X-C": "{csrf}"}}, revoke={"path": "/out"},
             csrf_preflight="/csrf", csrf_token_path="csrf", **fields),
        ENDPOINTS,
    )  # fmt: skip
    requests = [
        oauth.login(BASE, "u", "p", 0), oauth.refresh(BASE, "R"), oauth.revoke(BASE, "R"),
        oauth.use(BASE, "A"), custom.login(BASE, "u", "p", 0), custom.refresh(BASE, "R"),
        custom.revoke(BASE, "R"), custom.use(BASE, "A"), custom.preflight(BASE),
    ]  # fmt: skip
    for request in requests:
        assert ("x-client", "v2") in request.headers, request.url
        assert ("apikey", "k1") in request.headers, request.url
    # One that the tester would send anyway replaces the default, not beside it.
    versioned = TargetProfile(spec(kind="oauth2", headers={"Accept": "application/vnd+json"}),
                              ENDPOINTS)  # fmt: skip
    for request in (versioned.refresh(BASE, "R"), versioned.use(BASE, "A")):
        accepts = [value for name, value in request.headers if name == "accept"]
        assert accepts == ["application/vnd+json"], request.url
    monkeypatch.delenv("GATEWAY_KEY")
    with pytest.raises(ScenarioError, match=r"target\.headers_env\.apikey: environment variable"):
        TargetProfile(spec(kind="oauth2", **fields), ENDPOINTS)


def test_every_request_names_the_tester_unless_the_target_names_another_agent() -> None:
    plain = TargetProfile(spec(kind="oauth2"), ENDPOINTS)
    for request in (plain.refresh(BASE, "R"), plain.use(BASE, "A"), plain.revoke(BASE, "R")):
        assert ("user-agent", USER_AGENT) in request.headers
    browser = TargetProfile(spec(kind="oauth2", headers={"User-Agent": "Mozilla/5.0"}), ENDPOINTS)
    agents = [v for name, v in browser.refresh(BASE, "R").headers if name == "user-agent"]
    assert agents == ["Mozilla/5.0"]


def origins(request: WireRequest) -> list[str]:
    return [value for name, value in request.headers if name == "origin"]


def test_a_custom_apis_state_changing_requests_come_from_its_origin_as_a_browsers_do() -> None:
    custom = TargetProfile(
        spec(kind="cookie", refresh_cookie="rt", refresh={"path": "/auth/refresh"},
             login={"path": "/auth/login", "json": {"u": "{username}"}},
             revoke={"path": "/auth/logout", "method": "DELETE"}),
        ENDPOINTS,
    )  # fmt: skip
    base = "https://app.example:8443/api/v1/"
    for request in (custom.login(base, "u", "p", 0), custom.refresh(base, "R"),
                    custom.revoke(base, "R")):  # fmt: skip
        assert origins(request) == ["https://app.example:8443"], request.url
    assert origins(custom.use(base, "A")) == []  # a GET: a browser sends none on its own origin
    assert origins(custom.refresh("https://u:p@app.example/", "R")) == ["https://app.example"]
    oauth = TargetProfile(spec(kind="oauth2"), ENDPOINTS)
    # Keycloak refuses a token request from an origin that is not among the client's.
    for request in (
        oauth.login(base, "u", "p", 0),
        oauth.refresh(base, "R"),
        oauth.revoke(base, "R"),
    ):
        assert origins(request) == [], request.url


def test_an_origin_the_target_names_replaces_the_apis_own() -> None:
    app = "https://app.example"
    given = TargetProfile(
        spec(kind="json", refresh={"path": "/r", "json": {"t": "{refresh_token}"}},
             headers={"Origin": app}),
        ENDPOINTS,
    )  # fmt: skip
    assert origins(given.refresh(BASE, "R")) == [app]
    templated = TargetProfile(
        spec(kind="json", refresh={"path": "/r", "headers": {"Origin": app}}), ENDPOINTS
    )
    assert origins(templated.refresh(BASE, "R")) == [app]


def _cookie_app(kind: str = "cookie") -> TargetProfile:
    return TargetProfile(
        spec(
            kind=kind,
            refresh={"path": "/auth/refresh"},
            revoke={"path": "/auth/logout"},
            refresh_cookie="rt" if kind == "cookie" else None,
            access_cookie="at" if kind == "cookie" else None,
            access_token_path="accessToken",
        ),
        ENDPOINTS,
    )


def test_a_cookie_apis_redirect_that_sets_the_refresh_cookie_is_a_login() -> None:
    # Post/Redirect/Get: a form login answers 302 with its cookies; the browser keeps them.
    set_both = (("location", "/"), ("set-cookie", "at=A; Path=/"), ("set-cookie", "rt=R"))
    parsed = _cookie_app().parse_tokens(response(302, None, set_both))
    assert parsed.outcome == "ok"
    assert parsed.tokens is not None
    assert (parsed.tokens.access, parsed.tokens.refresh) == ("A", "R")
    only_access = response(303, None, (("set-cookie", "at=A"), ("set-cookie", "rt=; Max-Age=0")))
    moved = response(307, None, (("location", "/auth/login/"), ("set-cookie", "rt=R")))
    assert _cookie_app().parse_tokens(moved).outcome == "fail"
    to_sign_in = response(302, None, (("location", "/login"),))
    assert _cookie_app().parse_tokens(only_access).outcome == "fail"
    assert _cookie_app().parse_tokens(to_sign_in) == _cookie_app().parse_plain(to_sign_in)
    assert _cookie_app().parse_tokens(to_sign_in).error == "http-302"


def test_a_redirect_without_the_access_token_is_indeterminate_and_says_redirect() -> None:
    profile = TargetProfile(
        spec(kind="cookie", refresh={"path": "/r"}, refresh_cookie="rt"), ENDPOINTS
    )
    parsed = profile.parse_tokens(response(302, None, (("set-cookie", "rt=R"),)))
    assert (parsed.outcome, parsed.error) == (
        "info",
        "malformed-response: no access token in redirect body",
    )


@pytest.mark.parametrize("kind", ["cookie", "json"])
def test_a_custom_apis_logout_that_redirects_has_logged_out(kind: str) -> None:
    profile = _cookie_app(kind)
    for status in (302, 303):  # done: on to another page
        assert profile.parse_logout(response(status, None, (("location", "/"),))).outcome == "ok"
    for status in (301, 307, 308):  # elsewhere (a trailing slash, https): not done here
        moved = response(status, None, (("location", "/auth/logout/"),))
        assert profile.parse_logout(moved).error == f"http-{status}"
    assert profile.parse_logout(response(403, None)).outcome == "fail"
    assert profile.parse_logout(response(503, None)).outcome == "info"
    # A use that is redirected was sent to the sign-in page: refused.
    assert profile.parse_plain(response(302, None, (("location", "/login"),))).outcome == "fail"


def test_an_oauth2_revocation_that_redirects_did_not_revoke() -> None:
    profile = TargetProfile(spec(kind="oauth2"), ENDPOINTS)
    assert profile.parse_logout(response(302, None, (("location", "/"),))).outcome == "fail"
    assert profile.parse_logout(response(200, None)).outcome == "ok"


def test_a_refresh_cookie_goes_only_where_a_browser_sends_it() -> None:
    profile = TargetProfile(
        spec(
            kind="cookie",
            refresh={"path": "/auth/refresh"},
            revoke={"path": "/auth/logout", "headers": {"Authorization": "Bearer {access_token}"}},
            refresh_cookie="rt",
            refresh_cookie_path="/auth/refresh",
        ),
        ENDPOINTS,
    )
    assert ("cookie", "rt=R") in profile.refresh(BASE, "R").headers
    logout = dict(profile.revoke(BASE, "R", "A").headers)
    assert "cookie" not in logout
    assert logout["authorization"] == "Bearer A"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "gzip, identity"])
def test_a_compressed_answer_is_read_although_no_coding_was_asked_for(coding: str) -> None:
    document = json.dumps({"access_token": "A", "refresh_token": "R"}).encode()
    packed = {
        "gzip": gzip.compress,
        "gzip, identity": gzip.compress,
        "deflate": zlib.compress,
        "raw-deflate": lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS),
    }[coding](document)
    name = "deflate" if coding == "raw-deflate" else coding
    answer = WireResponse(200, (("content-encoding", name),), packed, "1.1")
    tokens = TargetProfile(spec(kind="oauth2"), ENDPOINTS).parse_tokens(answer).tokens
    assert tokens is not None
    assert (tokens.access, tokens.refresh) == ("A", "R")
    refused = WireResponse(400, (("content-encoding", name),), gzip.compress(b'{"error": "x"}'),
                           "1.1") if name == "gzip" else None  # fmt: skip
    if refused is not None:
        assert TargetProfile(spec(kind="oauth2"), ENDPOINTS).parse_tokens(refused).error == "x"


@pytest.mark.parametrize(
    ("coding", "body"), [("br", b"\x1b\x00"), ("gzip", b"not gzip"), ("deflate", b"nope")]
)
def test_an_answer_in_a_coding_not_read_is_no_document(coding: str, body: bytes) -> None:
    answer = WireResponse(200, (("content-encoding", coding),), body, "1.1")
    parsed = TargetProfile(spec(kind="oauth2"), ENDPOINTS).parse_tokens(answer)
    assert (parsed.outcome, parsed.error) == (
        "info",
        "malformed-response: no access token in 2xx body",
    )


def test_an_oauth_error_answered_with_200_is_a_refusal() -> None:
    # GitHub's token endpoint: 200 {"error": "bad_refresh_token", "error_description": ...}.
    refused = response(200, {"error": "bad_refresh_token", "error_description": "expired"})
    parsed = TargetProfile(spec(kind="oauth2"), ENDPOINTS).parse_tokens(refused)
    assert (parsed.outcome, parsed.error) == ("fail", "bad_refresh_token")
    # A custom API's 200 with an error field stays unknown: its meaning is the API's own.
    custom = TargetProfile(
        spec(kind="json", refresh={"path": "/r"}, access_token_path="accessToken"), ENDPOINTS
    )
    assert custom.parse_tokens(response(200, {"error": "busy"})).outcome == "info"
    # An error beside a token is no refusal.
    both = response(200, {"access_token": "A", "refresh_token": "R", "error": "none"})
    assert TargetProfile(spec(kind="oauth2"), ENDPOINTS).parse_tokens(both).outcome == "ok"


def _graphql_error(code: str | None, message: str = "Invalid refresh token") -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "path": ["tokens"]}
    if code is not None:
        error["extensions"] = {"code": code}
    return {"errors": [error], "data": {"tokens": None}}


PARTIAL = {"errors": [{"message": "x"}], "data": {"tokens": {"accessToken": ""}}}


@pytest.mark.parametrize(
    ("document", "tokens", "plain"),
    [
        (_graphql_error("UNAUTHENTICATED"), ("fail", "UNAUTHENTICATED"), None),
        (_graphql_error(None), ("fail", "graphql-error"), None),
        (_graphql_error("INTERNAL_SERVER_ERROR"), ("info", "INTERNAL_SERVER_ERROR"), None),
        (_graphql_error(None, "Unexpected error."), ("info", "graphql-unexpected-error"), None),
        (PARTIAL, ("info", "malformed-response: no access token in 2xx body"), ("ok", None)),
    ],
)  # fmt: skip
def test_a_graphql_refusal_answered_with_200_is_read_as_one(
    document: dict[str, Any], tokens: tuple[str, str], plain: tuple[str, None] | None
) -> None:
    """A GraphQL API answers a resolver's refusal with 200, ``errors`` and null data; an error
    the server did not expect (Apollo's INTERNAL_SERVER_ERROR, Yoga's mask) stays unknown, and
    an answer with data beside its errors is no refusal. ``plain``: how a use or a logout
    answered so reads, when not as the refresh does."""
    custom = TargetProfile(
        spec(kind="json", refresh={"path": "/graphql"}, access_token_path="data.tokens.a"),
        ENDPOINTS,
    )
    got = custom.parse_tokens(response(200, document))
    assert (got.outcome, got.error) == tokens
    used = custom.parse_plain(response(200, document))
    assert (used.outcome, used.error) == (plain or tokens)
    # An OAuth 2.0 server's token answer is read by RFC 6749 alone; the API its tokens are
    # used at may be a GraphQL one all the same (Hasura's).
    oauth = TargetProfile(spec(kind="oauth2"), ENDPOINTS)
    assert oauth.parse_tokens(response(200, document)).outcome == "info"
    at_api = oauth.parse_plain(response(200, document))
    assert (at_api.outcome, at_api.error) == (plain or tokens)


def test_a_compressed_graphql_refusal_of_a_use_is_read_too() -> None:
    body = gzip.compress(json.dumps(_graphql_error("UNAUTHENTICATED")).encode())
    answer = WireResponse(200, (("content-encoding", "gzip"),), body, "1.1")
    custom = TargetProfile(spec(kind="json", refresh={"path": "/graphql"}), ENDPOINTS)
    used = custom.parse_plain(answer)
    assert (used.outcome, used.error) == ("fail", "UNAUTHENTICATED")


ME = {"query": "{ me { email } }"}


def test_a_use_described_by_its_request_presents_the_token_as_a_use_does() -> None:
    """``[target.use]``: a POST GraphQL query, an RPC call. Without ``{access_token}`` in it,
    the token goes as a default use sends it; with it, only where the template says."""
    json_api = {"kind": "json", "refresh": {"path": "/graphql"}}
    bearer = TargetProfile(spec(**json_api, use={"path": "/graphql", "json": ME}), ENDPOINTS)
    sent = bearer.use("http://h/", "AT")
    assert (sent.method, sent.url) == ("POST", "http://h/graphql")
    assert json.loads(sent.body) == ME
    headers = dict(sent.headers)
    assert headers["authorization"] == "Bearer AT"
    assert headers["content-type"] == "application/json"
    placed = {"path": "/rpc", "json": {"token": "{access_token}"}, "headers": {"X-Api": "1"}}
    own = TargetProfile(spec(**json_api, use=placed), ENDPOINTS).use("http://h/", "AT")
    assert json.loads(own.body) == {"token": "AT"}
    assert "authorization" not in dict(own.headers)
    cookie_api = {"kind": "cookie", "refresh_cookie": "rt", "access_cookie": "at"}
    cookies = TargetProfile(
        spec(**cookie_api, refresh={"path": "/r"}, use={"path": "/graphql", "json": ME}),
        ENDPOINTS,
    ).use("http://h/", "AT", {"sid": "S"})
    assert dict(cookies.headers)["cookie"] == "sid=S; at=AT"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"resource": "/me", "use": {"path": "/graphql"}}, "name the protected API twice"),
        ({"use": {"path": "/rpc", "json": {"t": "{refresh_token}"}}},
         "[target.use]: {refresh_token} is not known to a use"),
    ],
)  # fmt: skip
def test_a_use_request_is_checked(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=re.escape(message)):
        spec(kind="json", refresh={"path": "/r"}, **fields)


def test_a_login_answer_is_read_at_the_logins_own_paths() -> None:
    profile = TargetProfile(
        spec(
            kind="json",
            refresh={"path": "/r"},
            access_token_path="accessToken",
            refresh_token_path="refreshToken",
            login_access_token_path="tokens.accessToken",
            login_refresh_token_path="tokens.refreshToken",
        ),
        ENDPOINTS,
    )
    nested = response(200, {"user": {}, "tokens": {"accessToken": "A", "refreshToken": "R"}})
    flat = response(200, {"accessToken": "A2", "refreshToken": "R2"})
    login = profile.parse_tokens(nested, login=True)
    assert login.tokens is not None
    assert (login.tokens.access, login.tokens.refresh) == ("A", "R")
    refresh = profile.parse_tokens(flat)
    assert refresh.tokens is not None
    assert (refresh.tokens.access, refresh.tokens.refresh) == ("A2", "R2")
    assert profile.parse_tokens(nested).outcome == "info"  # a refresh is read at its own


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "oauth2", "login_access_token_path": "a"}, "login_access_token_path goes with"),
        ({"kind": "cookie", "refresh_cookie": "rt", "refresh": {"path": "/r"},
          "login_refresh_token_path": "a"}, "login_refresh_token_path goes with target.kind"),
    ],
)  # fmt: skip
def test_the_logins_own_paths_go_with_a_custom_body(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=re.escape(message)):
        spec(**fields)


def test_a_graphql_refusal_with_its_own_status_is_named_by_its_code() -> None:
    """GraphQL over HTTP's ``application/graphql-response+json`` answers a refusal with a 4xx:
    the status says what it is, the code names it."""
    custom = TargetProfile(spec(kind="json", refresh={"path": "/graphql"}), ENDPOINTS)
    refused = custom.parse_tokens(response(401, _graphql_error("UNAUTHENTICATED")))
    assert (refused.outcome, refused.error) == ("fail", "UNAUTHENTICATED")
    crashed = custom.parse_tokens(response(500, _graphql_error("INTERNAL_SERVER_ERROR")))
    assert (crashed.outcome, crashed.error) == ("info", "INTERNAL_SERVER_ERROR")
    assert custom.parse_tokens(response(401, {"message": "no"})).error == "http-401"
