"""Set-Cookie headers read as a browser reads them (RFC 6265, 5.2), not as http.cookies does."""

from __future__ import annotations

import pytest

from stress.set_cookie import (
    SetCookie,
    cookie_path,
    cookies_set,
    default_path,
    parse_set_cookie,
    path_matches,
)

NOW = 1_800_000_000.0  # 2027-01-15
PAST = "Thu, 01 Jan 1970 00:00:00 GMT"
FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"


@pytest.mark.parametrize(
    "header",
    [
        "rt=R; Path=/auth; HttpOnly; Secure; SameSite=None; Partitioned",  # CHIPS
        "rt=R; Path=/; Priority=High; HttpOnly",  # Chrome's priority, not a second cookie
        "rt=R; Expires=Wed, 09 Jun 2100 10:18:14 GMT; HttpOnly; Priority=Medium; SameSite=lax",
        "rt=R; HttpOnly; SameParty",
        "rt=R;path=/;HTTPONLY;SAMESITE=Strict",
        " rt = R ; Path=/",
    ],
)
def test_attributes_a_browser_skips_or_knows_leave_the_cookie_and_add_none(header: str) -> None:
    assert cookies_set([header], NOW) == {"rt": "R"}


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ('rt="quoted"; Path=/', '"quoted"'),  # sent back with its quotes, as a browser does
        ("rt=a b c; Path=/", "a b c"),
        ('rt={"user":1}; Path=/', '{"user":1}'),
        ("rt=x=y==; Path=/", "x=y=="),
        ("rt=a,b", "a,b"),
        ("rt=ey.J%2F", "ey.J%2F"),  # percent-encoding is the server's, left as sent
    ],
)
def test_a_value_is_everything_up_to_the_first_semicolon(header: str, value: str) -> None:
    assert cookies_set([header], NOW) == {"rt": value}


@pytest.mark.parametrize("header", ["noequals; Path=/", "=R; Path=/", " =R", ""])
def test_a_header_a_browser_ignores_sets_nothing(header: str) -> None:
    assert parse_set_cookie(header) is None
    assert cookies_set([header, "sid=S"], NOW) == {"sid": "S"}


@pytest.mark.parametrize(
    ("header", "cleared"),
    [
        ("rt=", True),
        ('rt=""; Path=/', True),  # Django's set_cookie("rt", "")
        ("rt=R; Max-Age=0", True),
        ("rt=R; Max-Age=-1", True),
        (f"rt=R; Expires={PAST}", True),  # Express's clearCookie
        ("rt=R; Expires=Thu, 01-Jan-1970 00:00:01 GMT", True),  # PHP's dashed date
        (f"rt=R; Max-Age=60; Expires={PAST}", False),  # Max-Age wins over Expires
        (f"rt=R; Expires={PAST}; Max-Age=60", False),  # in either order
        (f"rt=R; Max-Age=0; Expires={FUTURE}", True),
        (f"rt=R; Max-Age=soon; Expires={PAST}", True),  # an invalid Max-Age is ignored
        ("rt=R; Max-Age=1e3", False),
        ("rt=R; Expires=tomorrow", False),  # an unreadable date sets a session cookie
        (f"rt=R; Expires={FUTURE}", False),
    ],
)
def test_a_cookie_is_cleared_by_an_empty_value_a_max_age_or_a_past_expiry(
    header: str, cleared: bool
) -> None:
    cookie = parse_set_cookie(header)
    assert cookie is not None
    assert cookie.clears(NOW) is cleared
    assert cookies_set([header], NOW) == {"rt": None if cleared else cookie.value}


def test_the_attributes_that_decide_a_lifetime_are_read_case_blind() -> None:
    cookie = parse_set_cookie(f"rt=R; PATH=/auth; max-age=5; EXPIRES={FUTURE}")
    assert cookie == SetCookie("rt", "R", "/auth", 5, FUTURE)
    assert parse_set_cookie("rt=R; Path=auth") == SetCookie("rt", "R")  # not a path: default


def test_of_one_name_and_path_the_last_set_cookie_counts() -> None:
    assert cookies_set(["rt=A; Path=/auth", "rt=B; Path=/auth"], NOW) == {"rt": "B"}
    assert cookies_set(["rt=A; Path=/auth", "rt=; Path=/auth"], NOW) == {"rt": None}
    assert cookies_set(["rt=; Path=/auth", "rt=A; Path=/auth"], NOW) == {"rt": "A"}


def test_a_clear_at_another_path_leaves_the_cookie_set_at_its_own() -> None:
    # A server moving its refresh cookie to a narrower path clears the old one beside it.
    moved = ["rt=NEW; Path=/auth", f"rt=; Path=/; Expires={PAST}"]
    assert cookies_set(moved, NOW) == {"rt": "NEW"}
    assert cookies_set(list(reversed(moved)), NOW) == {"rt": "NEW"}


def test_names_come_in_the_order_they_were_first_set() -> None:
    headers = ["sid=S", "rt=R; Priority=High", "at=A; Partitioned", "sid=T"]
    assert list(cookies_set(headers, NOW).items()) == [("sid", "T"), ("rt", "R"), ("at", "A")]


@pytest.mark.parametrize(
    ("request_path", "expected"),
    [("/auth/login", "/auth"), ("/login", "/"), ("/", "/"), ("", "/"), ("/a/b/c", "/a/b")],
)
def test_a_cookie_without_path_goes_to_the_directory_that_set_it(
    request_path: str, expected: str
) -> None:
    assert default_path(request_path) == expected


@pytest.mark.parametrize(
    ("request_path", "scope", "sent"),
    [
        ("/auth/refresh", "/auth/refresh", True),
        ("/auth/refresh", "/auth", True),
        ("/auth/refresh", "/auth/", True),
        ("/auth/refresh", "/", True),
        ("/auth/logout", "/auth/refresh", False),
        ("/authx/refresh", "/auth", False),
        ("/auth", "/auth/", False),
    ],
)
def test_a_cookie_goes_to_its_path_and_below_it_only(
    request_path: str, scope: str, sent: bool
) -> None:
    assert path_matches(request_path, scope) is sent


def test_the_path_of_a_cookie_is_that_of_the_last_header_setting_it() -> None:
    headers = ["rt=A; Path=/x", "at=B", "rt=C; Path=/auth/refresh", f"rt=; Path=/; Expires={PAST}"]
    assert cookie_path(headers, "rt", "/auth/login") == "/auth/refresh"
    assert cookie_path(headers, "at", "/auth/login") == "/auth"  # the login's directory
    assert cookie_path(headers, "sid", "/auth/login") is None
