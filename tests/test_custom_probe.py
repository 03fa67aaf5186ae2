"""The custom-API probe's reading of answers: where tokens are, which cookie, what is quoted."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import anyio
import httpx
import pytest

from stress.custom_probe import (
    ACCESS_NAMES,
    REFRESH_NAMES,
    CustomPaths,
    CustomShape,
    _access_cookie,
    _cookies,
    _csrf_cookies,
    _csrf_headers,
    _find,
    _post,
    _refresh_cookie,
    _said,
    probe_custom_api,
)
from stress.errors import TargetError


def _probed(answer: Callable[[httpx.Request], httpx.Response], paths: CustomPaths) -> CustomShape:
    """What the probe learns of the API that ``answer`` plays, logged in as u/p."""

    async def go() -> CustomShape:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            return await probe_custom_api(http, "http://h/", paths, username="u", password="p")

    return anyio.run(go)


@pytest.mark.parametrize(
    ("document", "access", "refresh"),
    [
        ({"access_token": "a", "refresh_token": "r"}, "access_token", "refresh_token"),
        ({"accessToken": "a", "refreshToken": "r", "expires": 9}, "accessToken", "refreshToken"),
        ({"access": "a", "refresh": "r"}, "access", "refresh"),  # djangorestframework-simplejwt
        ({"data": {"token": "a", "refresh": "r"}}, "data.token", "data.refresh"),
        ({"user": {"id": 1}, "tokens": {"accessToken": "a"}}, "tokens.accessToken", None),
        ({"token": "", "jwt": "a"}, None, None),  # empty strings and other names are no token
        ({"data": {"login": {"accessToken": "a", "refreshToken": "r"}}},
         "data.login.accessToken", "data.login.refreshToken"),  # GraphQL: two objects down
        ({"a": {"b": {"c": {"access_token": "deep"}}}}, None, None),  # no further
        ({"user": {"p": {"token": "x"}}, "session": {"accessToken": "a"}}, "session.accessToken",
         None),  # the shallowest first
        ([{"access_token": "a"}], None, None),
    ],
)  # fmt: skip
def test_tokens_are_found_under_the_usual_names(
    document: dict[str, object], access: str | None, refresh: str | None
) -> None:
    assert _find(document, ACCESS_NAMES) == access
    assert _find(document, REFRESH_NAMES) == refresh


def _login(*cookies: str) -> httpx.Response:
    return httpx.Response(200, headers=[("set-cookie", c) for c in cookies], json={})


def test_the_refresh_cookie_is_the_only_one_or_the_one_named_like_it() -> None:
    assert _refresh_cookie(["rt"], None, "/login") == "rt"
    both = list(_cookies(_login("session=s; Path=/", "refresh_token=x; HttpOnly; Path=/auth")))
    assert both == ["session", "refresh_token"]
    assert _refresh_cookie(both, None, "/login") == "refresh_token"
    assert _refresh_cookie(both, "session", "/login") == "session"
    with pytest.raises(TargetError, match="set the cookies a, b: pass --refresh-cookie"):
        _refresh_cookie(["a", "b"], None, "/login")
    with pytest.raises(TargetError, match=r"set no cookie sid \(it set: a, b\)"):
        _refresh_cookie(["a", "b"], "sid", "/login")


def test_an_access_cookie_is_one_named_like_an_access_token() -> None:
    assert _access_cookie(["access_token", "refresh_token"]) == "access_token"
    assert _access_cookie(["at", "rt"]) == "at"
    assert _access_cookie(["sid", "rt"]) is None
    assert _access_cookie(["access", "accessExpires"]) is None  # two: not guessed
    cleared = _login("at=; Max-Age=0", "rt=x")  # a cookie set empty is a cleared one
    assert _cookies(cleared) == {"rt": "x"}


def test_quoted_answers_mask_what_was_sent() -> None:
    # FastAPI-style validation errors echo the request body, password included.
    echo = httpx.Response(422, json={"detail": [{"input": {"pass": "hunter2", "rt": "tok"}}]})
    said = _said(echo, ["hunter2", "tok"])
    assert said.startswith("422 ")
    assert "hunter2" not in said
    assert "tok" not in said.replace("***", "")


def test_a_redirect_is_quoted_with_where_it_points() -> None:
    moved = httpx.Response(307, headers={"location": "http://h/auth/refresh/"})
    assert _said(moved, []) == "307 redirect to http://h/auth/refresh/"


def test_the_refresh_presents_the_token_as_the_api_took_it() -> None:
    paths = CustomPaths("/auth/login", "/auth/refresh", revoke="/auth/logout")
    shape = CustomShape(
        "json", paths, ("json", {"email": "{username}"}), "data.access", "data.refresh", None
    )
    body = {"json": {"refresh": "{refresh_token}"}}  # the field name the login used
    assert shape.presentation() == body
    fields = shape.target_fields()
    assert fields["refresh"] == {"path": "/auth/refresh", **body}
    assert fields["revoke"] == {"path": "/auth/logout", **body}
    bearer = dataclasses.replace(shape, presented="bearer")
    assert bearer.target_fields()["refresh"] == {
        "path": "/auth/refresh",
        "headers": {"Authorization": "Bearer {refresh_token}"},
    }
    cookie = CustomShape(
        "cookie", paths, ("form", {}), "accessToken", None, "rt", presented="cookie"
    )
    assert "refresh_token_path" not in cookie.target_fields()
    assert cookie.target_fields()["refresh"] == {"path": "/auth/refresh"}
    assert cookie.target_fields()["login"] == {"path": "/auth/login", "form": {}}


def test_a_cookie_value_is_read_from_its_header_even_when_secure_over_http() -> None:
    login = _login("rt=abc; Secure; HttpOnly; Path=/auth", "other=1")
    assert _cookies(login) == {"rt": "abc", "other": "1"}


def test_the_probe_sends_only_the_cookies_the_scenario_will_send() -> None:
    # httpx keeps cookies a response set; a refresh that works thanks to one of them would be
    # learnt as a body API whose runs then fail.
    sent: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "rt=from-login"}, json={})

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            await _post(http, "http://127.0.0.1:9/login", {}, {})
            await _post(http, "http://127.0.0.1:9/refresh", {"refresh": "r"}, {})
            await _post(http, "http://127.0.0.1:9/refresh", None, {"cookie": "rt=given"})

    anyio.run(go)
    assert sent == [None, None, "rt=given"]


def test_csrf_cookies_are_no_token_cookies_and_the_refresh_ones_come_first() -> None:
    # flask-jwt-extended in cookie mode sets four cookies.
    names = ["access_token_cookie", "csrf_access_token", "refresh_token_cookie",
             "csrf_refresh_token"]  # fmt: skip
    assert _csrf_cookies(names) == ["csrf_refresh_token", "csrf_access_token"]
    others = [n for n in names if n not in _csrf_cookies(names)]
    assert _access_cookie(others) == "access_token_cookie"
    assert _refresh_cookie(others, None, "/login") == "refresh_token_cookie"
    assert _csrf_headers("XSRF-TOKEN")[0] == "X-XSRF-TOKEN"  # Angular's pair
    assert _csrf_headers("csrftoken")[0] == "X-CSRFToken"  # Django's
    assert _csrf_headers("csrf_refresh_token")[0] == "X-CSRF-Token"


def test_a_refresh_refused_without_its_csrf_value_is_learnt_with_it() -> None:
    # A double submit: the header must equal the cookie, both as the login set them.
    sent: list[tuple[str | None, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            cookies = ["rt=R1; HttpOnly", "XSRF-TOKEN=C1", "session=s"]
            return httpx.Response(
                200, headers=[("set-cookie", c) for c in cookies], json={"accessToken": "A1"}
            )
        sent.append((request.headers.get("cookie"), request.headers.get("x-xsrf-token")))
        if request.url.path == "/logout":
            revoked = sent[-1] == ("rt=R2; XSRF-TOKEN=C1", "C1")
            return httpx.Response(204 if revoked else 403)
        if sent[-1] != ("rt=R1; XSRF-TOKEN=C1", "C1"):
            return httpx.Response(403, json={"message": "CSRF token mismatch C1"})
        return httpx.Response(200, headers={"set-cookie": "rt=R2"}, json={"accessToken": "A2"})

    shape = _probed(answer, CustomPaths("/login", "/refresh", revoke="/logout"))
    # Then the logout of the refreshed session, and a refresh to see it revoked.
    assert sent == [("rt=R1", None), ("rt=R1; XSRF-TOKEN=C1", "C1"),
                    ("rt=R2; XSRF-TOKEN=C1", "C1"), ("rt=R2; XSRF-TOKEN=C1", "C1")]  # fmt: skip
    assert not shape.logout_kept_refresh
    assert (shape.kind, shape.refresh_cookie, shape.csrf_cookie) == ("cookie", "rt", "XSRF-TOKEN")
    fields = shape.target_fields()
    assert fields["csrf_cookie"] == "XSRF-TOKEN"
    assert fields["refresh"] == {"path": "/refresh", "headers": {"X-XSRF-TOKEN": "{csrf}"}}
    assert fields["revoke"] == {"path": "/logout", "headers": {"X-XSRF-TOKEN": "{csrf}"}}


def test_a_synchronizer_token_in_the_login_answer_is_learnt_as_a_header() -> None:
    sent: list[tuple[str | None, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            body = {"accessToken": "A1", "refreshToken": "R1", "csrf_token": "S1"}
            return httpx.Response(200, json=body)
        sent.append((request.headers.get("cookie"), request.headers.get("x-csrf-token")))
        if request.headers.get("x-csrf-token") != "S1":
            return httpx.Response(403, json={"message": "bad csrf S1"})
        return httpx.Response(200, json={"accessToken": "A2", "refreshToken": "R2"})

    shape = _probed(answer, CustomPaths("/login", "/refresh"))
    assert len(sent) == 6  # the five ways alone, then the first with the value as a header
    assert sent[-1] == (None, "S1")
    assert (shape.csrf_token_path, shape.csrf_cookie) == ("csrf_token", None)
    assert shape.target_fields()["refresh"] == {
        "path": "/refresh",
        "json": {"refreshToken": "{refresh_token}"},
        "headers": {"X-CSRF-Token": "{csrf}"},
    }


def test_a_csrf_value_the_login_wants_goes_with_the_logout_too() -> None:
    paths = CustomPaths("/in", "/refresh", revoke="/out", csrf_preflight="/csrf")
    shape = CustomShape(
        "cookie", paths, ("json", {"u": "{username}"}), "access", None, "rt",
        presented="cookie", csrf_cookie="csrftoken", login_csrf_header="X-CSRFToken",
    )  # fmt: skip
    fields = shape.target_fields()
    assert fields["csrf_preflight"] == "/csrf"
    assert fields["login"]["headers"] == {"X-CSRFToken": "{csrf}"}
    assert fields["refresh"] == {"path": "/refresh"}  # the refresh took none
    assert fields["revoke"] == {"path": "/out", "headers": {"X-CSRFToken": "{csrf}"}}


def test_a_refresh_refused_without_the_logins_session_cookie_is_learnt_with_it() -> None:
    # An express-session beside tokens in the body: the refresh wants the session's cookie.
    sent: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            body = {"accessToken": "A1", "refreshToken": "R1"}
            return httpx.Response(200, headers={"set-cookie": "sid=S1; HttpOnly"}, json=body)
        sent.append(request.headers.get("cookie"))
        if request.headers.get("cookie") != "sid=S1":
            return httpx.Response(401, json={"message": "No session"})
        return httpx.Response(200, json={"accessToken": "A2", "refreshToken": "R2"})

    shape = _probed(answer, CustomPaths("/login", "/refresh"))
    assert sent == [None, None, None, None, None, "sid=S1"]  # the five ways alone, then with it
    assert (shape.kind, shape.presented, shape.session_cookies) == ("json", "body", ("sid",))
    assert shape.target_fields()["session_cookies"] == ["sid"]


def test_csurfs_secret_cookie_goes_with_the_value_derived_from_it() -> None:
    # csurf: the preflight sets the secret as `_csrf` and answers a token that is not its value;
    # every POST wants the token as a header and the secret as its cookie.
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/csrf":
            return httpx.Response(
                200, headers={"set-cookie": "_csrf=SECRET; HttpOnly"}, json={"csrfToken": "T"}
            )
        guarded = request.headers.get("x-csrf-token") == "T"
        cookies = (request.headers.get("cookie") or "").split("; ")
        if not guarded or "_csrf=SECRET" not in cookies:
            return httpx.Response(403, json={"message": "invalid csrf token"})
        if request.url.path == "/login":
            return httpx.Response(200, headers={"set-cookie": "rt=R1"}, json={"accessToken": "A1"})
        if "rt=R1" not in cookies:
            return httpx.Response(401, json={"message": "no token"})
        return httpx.Response(200, headers={"set-cookie": "rt=R2"}, json={"accessToken": "A2"})

    shape = _probed(answer, CustomPaths("/login", "/refresh", csrf_preflight="/csrf"))
    assert (shape.csrf_token_path, shape.csrf_cookie) == ("csrfToken", None)
    assert (shape.login_csrf_header, shape.csrf_header) == ("X-CSRF-Token", "X-CSRF-Token")
    assert shape.session_cookies == ("_csrf",)
    fields = shape.target_fields()
    assert fields["session_cookies"] == ["_csrf"]
    assert fields["refresh"] == {"path": "/refresh", "headers": {"X-CSRF-Token": "{csrf}"}}


def test_a_preflights_plain_token_is_the_value_and_its_named_header_is_tried_first() -> None:
    # Spring Security's CsrfToken as JSON, the value kept in the session (JSESSIONID).
    logins: list[tuple[str | None, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/csrf":
            body = {"token": "T", "headerName": "X-MY-CSRF", "parameterName": "_csrf"}
            return httpx.Response(200, headers={"set-cookie": "JSESSIONID=J"}, json=body)
        sent = (request.headers.get("x-my-csrf"), request.headers.get("cookie"))
        if request.url.path == "/login":
            logins.append(sent)
        if sent[0] != "T" or "JSESSIONID=J" not in (sent[1] or ""):
            return httpx.Response(403, json={"error": "Forbidden"})
        return httpx.Response(200, json={"access_token": "A", "refresh_token": "R"})

    shape = _probed(answer, CustomPaths("/login", "/refresh", csrf_preflight="/csrf"))
    assert logins == [("T", "JSESSIONID=J")]  # the header the preflight named, at once
    assert (shape.csrf_token_path, shape.login_csrf_header) == ("token", "X-MY-CSRF")
    assert shape.session_cookies == ("JSESSIONID",)


def test_a_preflight_value_where_the_login_answers_its_access_token_is_refused() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/csrf":
            return httpx.Response(200, json={"token": "T"})
        return httpx.Response(200, json={"token": "ACCESS", "refreshToken": "R"})

    with pytest.raises(TargetError, match="where the login answers its access token"):
        _probed(answer, CustomPaths("/login", "/refresh", csrf_preflight="/csrf"))


def test_a_value_the_login_replaced_is_fetched_again_after_it() -> None:
    # Spring Security: the login starts a new session (JSESSIONID) with a new CSRF token, which
    # only the preflight hands out.
    tokens = {"S1": "T1", "S2": "T2"}

    def answer(request: httpx.Request) -> httpx.Response:
        session = (request.headers.get("cookie") or "JSESSIONID=S1").split("JSESSIONID=")[-1][:2]
        if request.url.path == "/csrf":
            body = {"token": tokens[session], "headerName": "X-CSRF-TOKEN"}
            return httpx.Response(200, headers={"set-cookie": f"JSESSIONID={session}"}, json=body)
        if request.headers.get("x-csrf-token") != tokens.get(session):
            return httpx.Response(403, json={"error": "Forbidden"})
        if request.url.path == "/login":
            body = {"access_token": "A", "refresh_token": "R"}
            return httpx.Response(200, headers={"set-cookie": "JSESSIONID=S2"}, json=body)
        return httpx.Response(200, json={"access_token": "A2", "refresh_token": "R2"})

    shape = _probed(answer, CustomPaths("/login", "/refresh", csrf_preflight="/csrf"))
    assert (shape.csrf_after_login, shape.session_cookies) == (True, ("JSESSIONID",))
    fields = shape.target_fields()
    assert fields["csrf_preflight_after_login"] is True
    assert fields["refresh"]["headers"] == {"X-CSRF-TOKEN": "{csrf}"}


def _json_api(logout: Callable[[httpx.Request], httpx.Response]) -> Callable[..., httpx.Response]:
    """A JSON API whose refresh rotates R1 -> R2 (A1 -> A2) and refuses a revoked family, with
    ``logout`` answering its logouts (it revokes by returning a 2xx)."""
    revoked = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(200, json={"accessToken": "A1", "refreshToken": "R1"})
        if request.url.path == "/logout":
            response = logout(request)
            revoked.append(response.is_success)
            return response
        if any(revoked) or json.loads(request.content or b"{}").get("refreshToken") not in (
            "R1",
            "R2",
        ):
            return httpx.Response(401, json={"message": "Invalid refresh token"})
        return httpx.Response(200, json={"accessToken": "A2", "refreshToken": "R2"})

    return answer


def test_a_logout_guarded_like_any_route_is_learnt_with_the_access_token() -> None:
    seen: list[tuple[str, str | None, bytes]] = []

    def logout(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.headers.get("authorization"), request.content))
        if request.method != "DELETE":
            return httpx.Response(405)
        if request.headers.get("authorization") != "Bearer A2":
            return httpx.Response(401, json={"message": "Unauthorized"})
        return httpx.Response(204)

    shape = _probed(_json_api(logout), CustomPaths("/login", "/refresh", revoke="/logout"))
    body = b'{"refreshToken":"R2"}'
    assert seen == [("POST", None, body), ("DELETE", None, body),
                    ("POST", "Bearer A2", body), ("DELETE", "Bearer A2", body)]  # fmt: skip
    assert (shape.revoke_way, shape.revoke_method) == ("with-access", "DELETE")
    assert not shape.logout_kept_refresh
    assert shape.target_fields()["revoke"] == {
        "path": "/logout",
        "json": {"refreshToken": "{refresh_token}"},
        "headers": {"Authorization": "Bearer {access_token}"},
        "method": "DELETE",
    }


def test_a_logout_that_wants_no_body_is_learnt_with_the_access_token_alone() -> None:
    def logout(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != "Bearer A2":
            return httpx.Response(401, json={"message": "Unauthorized"})
        if request.content:
            return httpx.Response(400, json={"message": "unexpected body"})
        return httpx.Response(204)

    shape = _probed(_json_api(logout), CustomPaths("/login", "/refresh", revoke="/logout"))
    assert shape.revoke_way == "access"
    assert shape.target_fields()["revoke"] == {
        "path": "/logout",
        "headers": {"Authorization": "Bearer {access_token}"},
    }


def test_a_logout_that_revokes_nothing_is_kept_and_said_so() -> None:
    # A logout that only clears the client's copy: 200, and the refresh token still refreshes.
    shape = _probed(
        _json_api(lambda request: httpx.Response(404 if request.method == "DELETE" else 200)),
        CustomPaths("/login", "/refresh", revoke="/logout"),
    )
    assert (shape.revoke_way, shape.revoke_method) == ("as-refresh", "POST")
    assert shape.logout_kept_refresh is False  # the stub's refresh refuses after a 2xx logout

    def clears_only(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"message": "logged out"})

    api = _json_api(clears_only)

    def still_refreshing(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/refresh":
            return httpx.Response(200, json={"accessToken": "A3", "refreshToken": "R3"})
        return api(request)

    shape = _probed(still_refreshing, CustomPaths("/login", "/refresh", revoke="/logout"))
    assert shape.logout_kept_refresh


def test_a_logout_refused_every_way_names_each_way_and_answer() -> None:
    def logout(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"message": "forbidden R2"})

    with pytest.raises(TargetError) as raised:
        _probed(_json_api(logout), CustomPaths("/login", "/refresh", revoke="/logout"))
    message = str(raised.value)
    assert message.startswith("the logout at /logout refused every way tried (")
    assert "POST the body {refreshToken}: 403" in message
    assert "POST the body {refreshToken} and the access token as Bearer: 403" in message
    assert "POST the access token as Bearer alone: 403" in message
    assert "DELETE" not in message  # the route is there: a 403 is no reason to try DELETE
    assert "R2" not in message  # the token sent is masked where the answer echoes it


def _scoped_cookie_api(
    cookie_path: str, seen: list[tuple[str, str | None]]
) -> Callable[[httpx.Request], httpx.Response]:
    """A cookie API whose login sets ``rt`` for ``cookie_path`` (its Path, or none when empty)
    and whose logout wants ``rt``: ``seen`` gets each request's path and cookie header."""
    attribute = f"; Path={cookie_path}" if cookie_path else ""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("cookie")))
        if request.url.path == "/auth/login":
            return httpx.Response(
                200, headers={"set-cookie": f"rt=R1{attribute}"}, json={"accessToken": "A1"}
            )
        if request.url.path == "/auth/refresh":
            return httpx.Response(
                200, headers={"set-cookie": f"rt=R2{attribute}"}, json={"accessToken": "A2"}
            )
        if "rt=" not in (request.headers.get("cookie") or ""):
            return httpx.Response(401, json={"message": "no session"})
        return httpx.Response(204)

    return answer


def test_a_refresh_cookie_scoped_to_the_refresh_does_not_go_to_the_logout() -> None:
    seen: list[tuple[str, str | None]] = []
    paths = CustomPaths("/auth/login", "/auth/refresh", revoke="/auth/logout")
    with pytest.raises(TargetError) as raised:
        _probed(_scoped_cookie_api("/auth/refresh", seen), paths)
    assert "refused every way tried (a browser sends it no rt cookie, which is set for " \
        "/auth/refresh only)" in str(raised.value)  # fmt: skip
    assert ("/auth/refresh", "rt=R1") in seen
    assert all("rt=" not in (cookie or "") for path, cookie in seen if path == "/auth/logout")


def test_a_refresh_cookie_without_a_path_goes_to_its_directory() -> None:
    seen: list[tuple[str, str | None]] = []
    paths = CustomPaths("/auth/login", "/auth/refresh", revoke="/auth/logout")
    shape = _probed(_scoped_cookie_api("", seen), paths)
    assert shape.refresh_cookie_path == "/auth"  # the login's directory, RFC 6265 5.1.4
    assert ("/auth/logout", "rt=R2") in seen
    whole_site = _probed(_scoped_cookie_api("/", []), paths)
    assert whole_site.refresh_cookie_path is None


def test_a_refresh_cookie_a_browser_would_not_send_to_the_refresh_is_refused() -> None:
    paths = CustomPaths("/auth/login", "/api/refresh")
    with pytest.raises(TargetError) as raised:
        _probed(_scoped_cookie_api("/auth", []), paths)
    assert str(raised.value) == (
        "the login at /auth/login sets the cookie rt for the path /auth only, and a browser "
        "does not send it to the refresh at /api/refresh: no browser could refresh there"
    )


def test_a_refresh_that_takes_a_form_is_learnt_after_the_json_ways() -> None:
    """A FastAPI refresh whose token is a ``Form`` field answers 422 to every JSON body and to
    a Bearer header; the form under the login's field name is taken, and the logout sent so."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(200, json={"access_token": "A1", "refresh_token": "R1"})
        seen.append(request.headers.get("content-type", "-"))
        if request.headers.get("content-type") != "application/x-www-form-urlencoded":
            return httpx.Response(422, json={"detail": [{"msg": "Field required"}]})
        if request.url.path == "/logout":
            return httpx.Response(204)
        return httpx.Response(200, json={"access_token": "A2", "refresh_token": "R2"})

    shape = _probed(answer, CustomPaths("/login", "/refresh", revoke="/logout"))
    assert shape.presented == "form"
    assert shape.target_fields()["refresh"] == {
        "path": "/refresh",
        "form": {"refresh_token": "{refresh_token}"},
    }
    assert shape.revoke_fields() == {
        "path": "/logout",
        "form": {"refresh_token": "{refresh_token}"},
    }
    assert seen[:4] == ["application/json", "-", "application/json", "application/json"]


def test_a_refresh_answering_elsewhere_keeps_both_paths_and_the_logins_field_names() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(200, json={"data": {"access_token": "A1", "refresh_token": "R1"}})
        if json.loads(request.content or b"{}").get("refresh_token") != "R1":
            return httpx.Response(401, json={"message": "Invalid refresh token"})
        return httpx.Response(200, json={"accessToken": "A2", "refreshToken": "R2"})

    shape = _probed(answer, CustomPaths("/login", "/refresh"))
    fields = shape.target_fields()
    assert (fields["access_token_path"], fields["refresh_token_path"]) == (
        "accessToken", "refreshToken",
    )  # fmt: skip
    assert (fields["login_access_token_path"], fields["login_refresh_token_path"]) == (
        "data.access_token", "data.refresh_token",
    )  # fmt: skip
    assert fields["refresh"]["json"] == {"refresh_token": "{refresh_token}"}  # the login's name
