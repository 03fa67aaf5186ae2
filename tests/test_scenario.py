"""Scenario validation: strict types, unknown keys, cross-field rules, clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from stress.errors import ScenarioError
from stress.scenario import RefreshStep, load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

VALID = """
name = "t"
[target]
kind = "oauth2"
base_url = "http://127.0.0.1:1"
[auth]
password = "pw"
[policy]
kind = "idempotent"
grace_seconds = 2
[[steps]]
op = "login"
[[steps]]
op = "refresh"
parallel = 4
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, text))
    return str(info.value)


def test_valid_scenario_loads(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, VALID))
    assert scenario.policy.model().grace_seconds == 2.0
    assert isinstance(scenario.steps[1], RefreshStep)
    assert scenario.steps[1].parallel == 4


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_scenarios_are_valid(path: Path) -> None:
    assert load_scenario(path).name


def test_wrong_type_names_key_and_types(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("parallel = 4", 'parallel = "4"'))
    assert "s.toml" in message
    assert "steps[1].parallel" in message
    assert "`steps[1].parallel`: expected `int`, got `str`" in message


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("parallel = 4", "paralel = 4"))
    assert message.endswith("unknown key `paralel` in `steps[1]`; did you mean `parallel`?")


def test_missing_target(tmp_path: Path) -> None:
    text = VALID.replace('[target]\nkind = "oauth2"\nbase_url = "http://127.0.0.1:1"\n', "")
    assert "missing key `target` at the top level" in error_of(tmp_path, text)


def test_bad_toml_reports_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID + "\nthis is = = not toml\n")
    assert "not valid TOML" in message
    assert "line" in message


def test_no_float_to_int_coercion(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("parallel = 4", "parallel = 4.0"))
    assert "expected `int`, got `float`" in message


def test_unknown_step_op(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace('op = "refresh"', 'op = "refrsh"'))
    assert message.endswith("`steps[1].op`: 'refrsh' is not a valid value; did you mean `refresh`?")


def test_policy_rules(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("grace_seconds = 2", "grace_seconds = 0"))
    assert "needs policy.grace_seconds > 0" in message
    strict = VALID.replace('kind = "idempotent"', 'kind = "strict"')
    assert "single use" in error_of(tmp_path, strict)


def test_cookie_target_needs_cookie_name(tmp_path: Path) -> None:
    text = VALID.replace('kind = "oauth2"', 'kind = "cookie"')
    assert "refresh_cookie" in error_of(tmp_path, text)


def test_first_step_must_log_in(tmp_path: Path) -> None:
    text = VALID.replace('[[steps]]\nop = "login"\n', "")
    assert "first step must be" in error_of(tmp_path, text)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "absent.toml")


POLICY = 'kind = "idempotent"\ngrace_seconds = 2'


def test_policy_fields_without_a_preset(tmp_path: Path) -> None:
    fields = (
        'replay = "access-only"\ngrace_seconds = 5\ngenerations = 2\nreuse_revokes = "user"\n'
        'refresh_revokes_access = true\nrelax = ["self-inflicted-logout"]'
    )
    policy = load_scenario(write(tmp_path, VALID.replace(POLICY, fields))).policy.model()
    assert (policy.replay, policy.grace_seconds, policy.generations) == ("access-only", 5.0, 2)
    assert (policy.reuse_revokes, policy.refresh_revokes_access) == ("user", True)
    assert policy.relax == ("self-inflicted-logout",)


def test_a_window_may_end_at_the_first_use_of_the_new_access_token(tmp_path: Path) -> None:
    block = 'kind = "overlap"\ngrace_seconds = 60\nuse_retires = true'
    policy = load_scenario(write(tmp_path, VALID.replace(POLICY, block))).policy.model()
    assert (policy.replay, policy.use_retires, policy.preset) == ("new-pair", True, None)
    assert policy.describe().endswith("a use of the new access token ends the window")


def test_a_strict_policy_may_spare_reuses_for_a_tolerance(tmp_path: Path) -> None:
    block = 'kind = "strict"\ntolerance_seconds = 1.5'
    policy = load_scenario(write(tmp_path, VALID.replace(POLICY, block))).policy.model()
    assert (policy.replay, policy.tolerance_seconds, policy.preset) == ("rejected", 1.5, "strict")
    assert policy.reuse_horizon_ns == 1_500_000_000
    assert policy.describe() == "strict, tolerance 1.5s"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ('kind = "strict"\ngrace_seconds = 3', "policy.grace_seconds must be 0, found 3"),
        ('kind = "idempotent"\nreplay = "new-pair"\ngrace_seconds = 1', "drop policy.kind"),
        ("grace_seconds = 3", "say what a replay inside the window returns"),
        ('replay = "same-pair"', "needs policy.grace_seconds > 0"),
        ('kind = "none"\nreplay = "same-pair"', "policy 'none' means no rotation"),
        ('kind = "overlap"\ngrace_seconds = 1\ngenerations = 0', "at least the immediate"),
        ('kind = "strict"\nrelax = ["forks"]', "`policy.relax[0]`"),
        ('kind = "none"\ntolerance_seconds = 1', "policy.tolerance_seconds do(es) not apply"),
        ('kind = "strict"\ntolerance_seconds = -1', "`policy.tolerance_seconds`"),
        ('kind = "strict"\nuse_retires = true', "policy.use_retires limits a replay window"),
        ('kind = "none"\nuse_retires = true', "policy.use_retires do(es) not apply"),
        ('kind = "strict"\nmax_replays = 2', "policy.max_replays limits a replay window"),
        ('kind = "overlap"\ngrace_seconds = 5\nmax_replays = -1', "`policy.max_replays`"),
    ],
)
def test_contradicting_policy_fields_name_the_field(
    tmp_path: Path, policy: str, message: str
) -> None:
    assert message in error_of(tmp_path, VALID.replace(POLICY, policy))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("parallel = 4", "parallel = 100000"),
         "`steps[1].parallel`: expected `int` <= 1024, found 100000"),
        (("[[steps]]\nop = \"login\"", "[run]\nconcurency = 3\n[[steps]]\nop = \"login\""),
         "unknown key `concurency` in [run]; did you mean `concurrency`?"),
        (('kind = "oauth2"', 'kind = "oauth"'),
         "`target.kind`: 'oauth' is not a valid value; did you mean `oauth2`?"),
        (("[policy]", "[polcy]"), "unknown key `polcy` at the top level; did you mean `policy`?"),
        (('op = "refresh"', 'op = "refresh"\nprofile = "zzz"'),
         "`steps[1].profile`: 'zzz' is not a valid value; expected one of lost-response-retry, "
         "multi-tab, naive-parallel, server-fan-out, single-flight"),
    ],
)  # fmt: skip
def test_errors_say_what_was_found_and_how_to_fix_it(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    assert error_of(tmp_path, VALID.replace(*change)).endswith(message)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('base_url = "127.0.0.1:8000"',
         "target.base_url '127.0.0.1:8000': expected an http:// or https:// base URL"),
        ('base_url = "http://127.0.0.1:1"\ntoken_endpoint = "ftp://host/token"',
         "target.token_endpoint 'ftp://host/token': expected a path or an http(s) URL"),
        ('base_url = "http://127.0.0.1:1"\nrevocation_endpoint = "localhost:8000/revoke"',
         "target.revocation_endpoint 'localhost:8000/revoke': expected a path or an http(s)"),
        ('base_url = "http://127.0.0.1:1"\njwks_uri = "/keys and more"',
         "target.jwks_uri '/keys and more': expected a path or an http(s) URL, without spaces"),
        ('base_url = "http://127.0.0.1:1"\nresource = "https:///me"',
         "target.resource 'https:///me': expected a path or an http(s) URL"),
    ],
)  # fmt: skip
def test_urls_that_cannot_reach_an_http_server_are_rejected_at_load(
    tmp_path: Path, line: str, message: str
) -> None:
    # Each was accepted before and failed only mid-run, as an internal error (exit 4).
    text = VALID.replace('base_url = "http://127.0.0.1:1"', line)
    assert message in error_of(tmp_path, text)


@pytest.mark.parametrize(
    "value", ["/o/token/", "token", "https://auth.example/oauth2/token", "http://h:8080/t?x=1"]
)
def test_endpoints_may_be_paths_or_http_urls(tmp_path: Path, value: str) -> None:
    text = VALID.replace(
        'base_url = "http://127.0.0.1:1"', f'base_url = "http://h"\ntoken_endpoint = "{value}"'
    )
    assert load_scenario(write(tmp_path, text)).target.token_endpoint == value


def test_a_custom_request_path_is_checked_too(tmp_path: Path) -> None:
    text = VALID.replace('kind = "oauth2"', 'kind = "json"').replace(
        "[auth]", '[target.refresh]\npath = "ftp://x"\n[auth]'
    )
    assert "`target.refresh`: path 'ftp://x': expected a path or an http(s) URL" in error_of(
        tmp_path, text
    )


def test_an_access_cookie_goes_with_a_cookie_target(tmp_path: Path) -> None:
    text = VALID.replace(
        'base_url = "http://127.0.0.1:1"', 'base_url = "http://h"\naccess_cookie = "at"'
    )
    assert "target.access_cookie goes with target.kind = 'cookie'" in error_of(tmp_path, text)


COOKIE = VALID.replace('kind = "oauth2"', 'kind = "cookie"\nrefresh_cookie = "rt"')


@pytest.mark.parametrize(
    ("fields", "refresh", "message"),
    [
        ('csrf_cookie = "XSRF-TOKEN"', "", "target.csrf_cookie: no request template sends"),
        ("", 'headers = { X-XSRF-TOKEN = "{csrf}" }', "target.refresh: {csrf} needs target."),
    ],
)
def test_a_csrf_cookie_and_the_csrf_placeholder_go_together(
    tmp_path: Path, fields: str, refresh: str, message: str
) -> None:
    text = COOKIE.replace('base_url = "http://127.0.0.1:1"', f'base_url = "http://h"\n{fields}')
    text = text.replace("[auth]", f'[target.refresh]\npath = "/r"\n{refresh}\n[auth]')
    assert message in error_of(tmp_path, text)


@pytest.mark.parametrize(
    ("kind", "where", "message"),
    [
        ("cookie", "auth", "target.refresh_cookie_path 'auth': expected a path starting with '/'"),
        ("cookie", "/api", "a browser does not send the cookie rt to the refresh at /auth/r,"),
        ("cookie", "/auth/re", "a browser does not send the cookie rt to the refresh at /auth/r,"),
        ("json", "/auth", "target.refresh_cookie_path goes with target.kind = 'cookie'"),
    ],
)
def test_a_refresh_cookie_path_covers_the_refresh(
    tmp_path: Path, kind: str, where: str, message: str
) -> None:
    text = COOKIE if kind == "cookie" else VALID.replace('kind = "oauth2"', 'kind = "json"')
    text = text.replace(
        'base_url = "http://127.0.0.1:1"', f'base_url = "http://h"\nrefresh_cookie_path = "{where}"'
    )
    text = text.replace(
        "[auth]",
        '[target.login]\npath = "/auth/in"\n[target.refresh]\npath = "/auth/r?x=1"\n[auth]',
    )
    assert message in error_of(tmp_path, text)
    covering = text.replace(f'refresh_cookie_path = "{where}"', 'refresh_cookie_path = "/auth"')
    if kind == "cookie":
        assert load_scenario(write(tmp_path, covering)).target.refresh_cookie_path == "/auth"


def test_a_csrf_value_is_not_known_to_the_login(tmp_path: Path) -> None:
    text = COOKIE.replace(
        'base_url = "http://127.0.0.1:1"', 'base_url = "http://h"\ncsrf_cookie = "c"'
    )
    text = text.replace(
        "[auth]",
        '[target.login]\npath = "/in"\nheaders = { X = "{csrf}" }\n'
        '[target.refresh]\npath = "/r"\njson = { t = "{csrf}" }\n[auth]',
    )
    assert "target.login: {csrf} is not known before the login" in error_of(tmp_path, text)


def test_a_csrf_value_comes_from_one_place(tmp_path: Path) -> None:
    text = COOKIE.replace(
        'base_url = "http://127.0.0.1:1"',
        'base_url = "http://h"\ncsrf_cookie = "c"\ncsrf_token_path = "csrfToken"',
    )
    text = text.replace(
        "[auth]", '[target.refresh]\npath = "/r"\nheaders = { X = "{csrf}" }\n[auth]'
    )
    assert "target.csrf_cookie and target.csrf_token_path: the CSRF value comes from one" in (
        error_of(tmp_path, text)
    )


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ('["rt"]', "target.session_cookies: 'rt' is target.refresh_cookie"),
        ('["sid", "sid"]', "target.session_cookies: 'sid' is named twice"),
        ('["a b"]', "target.session_cookies: 'a b' is not a cookie name"),
    ],
)
def test_session_cookies_name_only_other_cookies_once(
    tmp_path: Path, names: str, message: str
) -> None:
    text = COOKIE.replace(
        'base_url = "http://127.0.0.1:1"', f'base_url = "http://h"\nsession_cookies = {names}'
    )
    text = text.replace("[auth]", '[target.refresh]\npath = "/r"\n[auth]')
    assert message in error_of(tmp_path, text)


def test_a_preflight_after_the_login_needs_the_preflight(tmp_path: Path) -> None:
    text = COOKIE.replace(
        'base_url = "http://127.0.0.1:1"',
        'base_url = "http://h"\ncsrf_preflight_after_login = true',
    )
    text = text.replace("[auth]", '[target.refresh]\npath = "/r"\n[auth]')
    assert "target.csrf_preflight_after_login: set target.csrf_preflight" in error_of(
        tmp_path, text
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ('headers = { "a b" = "x" }', "target.headers: 'a b' is not a header name"),
        ('headers = { Cookie = "x=1" }', "target.headers: 'Cookie' is written by auth-stress"),
        ('headers_env = { Authorization = "K" }', "target.headers_env: 'Authorization' is"),
        ('headers = { apikey = "a" }\nheaders_env = { APIKEY = "K" }',
         "target.headers_env: 'APIKEY' is in target.headers too"),
        ('headers = { k = "a", K = "b" }', "target.headers: 'K' is named twice"),
        ('headers = { X-Csrf = "a" }', "target.headers: 'X-Csrf' is in [target.refresh] headers"),
        ('headers = { k = "a\\nb" }', "target.headers.k: control characters"),
        ('headers_env = { k = "not a name" }', "target.headers_env.k: 'not a name' is not an"),
    ],
)  # fmt: skip
def test_headers_for_every_request_are_checked(tmp_path: Path, fields: str, message: str) -> None:
    text = COOKIE.replace('base_url = "http://127.0.0.1:1"', f'base_url = "http://h"\n{fields}')
    text = text.replace(
        "[auth]", '[target.refresh]\npath = "/r"\nheaders = { x-csrf = "1" }\n[auth]'
    )
    assert message in error_of(tmp_path, text)


def test_a_header_read_from_a_variable_is_a_secret_to_check_for(tmp_path: Path) -> None:
    text = VALID.replace(
        'base_url = "http://127.0.0.1:1"',
        'base_url = "http://h"\nheaders = { x-client = "1" }\nheaders_env = { apikey = "KEY" }',
    )
    scenario = load_scenario(write(tmp_path, text))
    assert scenario.target.headers_env == {"apikey": "KEY"}
    assert "KEY" in scenario.secret_env_vars()
