"""``auth-stress init`` and ``policy`` for a custom JSON or cookie API, against the Express-style
target: the API's shape is learnt from one login and one refresh, and the file written catches
its bug."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from support.targets import serving
from test_init import auth_stress

from stress.launcher import free_port

from .conftest import ExpressTarget

pytestmark = pytest.mark.integration
OUTCOMES = ("ok", "fail", "info")


@pytest.mark.parametrize(
    "express_target",
    [
        "body", "bearer", "both", "form", "cookie", "cookies", "csrf", "csrf-body", "csrf-login",
        "session", "csurf", "csrf-rotate", "guarded-logout",
    ],
    indirect=True,
)  # fmt: skip
def test_a_custom_api_is_learnt_from_one_login_and_one_refresh(
    express_target: ExpressTarget, tmp_path: Path
) -> None:
    # The Express-style app logs in with {email, password} (the second body init tries) and
    # carries its refresh token in the body or in the cookie `rt`; each variant has a bug.
    variant = express_target.log.stem.removeprefix("express-")
    out = tmp_path / f"{variant}.toml"
    # Only the preflight's path cannot be found: the login wants a value handed out before it.
    handed_out = variant in ("csrf-login", "csurf", "csrf-rotate")
    preflight = ["--csrf-preflight", "/auth/csrf"] if handed_out else []
    # The policy is measured where the measurement is part of what is tested: the cookie
    # variants' verdict rests on it, and its replays present older tokens with their CSRF
    # values. The others declare it (test_policy_custom measures a JSON API).
    measured = variant in ("cookie", "cookies", "csrf")
    policy = [] if measured else ["--policy", "strict"]
    made = auth_stress(
        "init", "--target", express_target.url, "--output", str(out), "--yes",
        "--login-path", "/auth/login", "--refresh-path", "/auth/refresh",
        "--revoke-path", "/auth/logout", "--username", "user{n}@example.com",
        "--password-env", "APP_PASSWORD", "--resource", "/api/profile", "--grace-max", "3",
        *preflight, *policy, cwd=tmp_path, env={"APP_PASSWORD": "hunter2"},
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    assert "hunter2" not in made.stdout + made.stderr
    target = tomllib.loads(out.read_text())["target"]
    if variant == "form":  # both JSON bodies refused, then the form taken
        login = {"form": {"username": "{username}", "password": "{password}"}}
    elif variant == "csrf-login":  # the value the preflight handed out goes with the login
        login = {
            "json": {"email": "{username}", "password": "{password}"},
            "headers": {"X-XSRF-TOKEN": "{csrf}"},
        }
    elif variant == "csrf-rotate":  # the header the preflight's answer names
        login = {
            "json": {"email": "{username}", "password": "{password}"},
            "headers": {"X-CSRF-TOKEN": "{csrf}"},
        }
    elif variant == "csurf":  # the value derived from the preflight's secret cookie
        login = {
            "json": {"email": "{username}", "password": "{password}"},
            "headers": {"X-CSRF-Token": "{csrf}"},
        }
    else:
        login = {"json": {"email": "{username}", "password": "{password}"}}
    assert target["login"] == {"path": "/auth/login", **login}
    if variant == "cookies":  # no token in any body: both are cookies
        assert target["kind"] == "cookie"
        assert target["access_cookie"] == "at"
        assert "access_token_path" not in target
        assert target["refresh_cookie"] == "rt"
    else:
        assert target["access_token_path"] == "accessToken"
    if variant in ("cookie", "cookies"):
        assert target["kind"] == "cookie"
        assert target["refresh_cookie"] == "rt"
        assert target["refresh"] == {"path": "/auth/refresh"}  # the cookie alone
    elif variant in ("csrf", "csrf-login"):  # the cookie alone refused: its value goes back too
        assert target["kind"] == "cookie"
        assert target["refresh_cookie"] == "rt"
        assert target["csrf_cookie"] == "XSRF-TOKEN"
        assert target["refresh"] == {"path": "/auth/refresh", "headers": {"X-XSRF-TOKEN": "{csrf}"}}
        assert target.get("csrf_preflight") == ("/auth/csrf" if variant == "csrf-login" else None)
    elif variant == "csurf":  # the preflight's value, with its secret cookie as a session cookie
        assert (target["kind"], target["refresh_cookie"]) == ("cookie", "rt")
        assert (target["csrf_preflight"], target["csrf_token_path"]) == ("/auth/csrf", "csrfToken")
        assert target["session_cookies"] == ["_csrf"]
        assert target["refresh"] == {"path": "/auth/refresh", "headers": {"X-CSRF-Token": "{csrf}"}}
    elif variant == "csrf-rotate":  # the login replaced the value: fetched again after it
        assert (target["kind"], target["refresh_cookie"]) == ("cookie", "rt")
        assert (target["csrf_preflight"], target["csrf_token_path"]) == ("/auth/csrf", "token")
        assert target["csrf_preflight_after_login"] is True
        assert target["session_cookies"] == ["sid"]
        assert target["refresh"] == {"path": "/auth/refresh", "headers": {"X-CSRF-TOKEN": "{csrf}"}}
    elif variant == "csrf-body":  # a synchronizer token, answered in the body
        assert (target["kind"], target["refresh_cookie"]) == ("cookie", "rt")
        assert target["csrf_token_path"] == "csrfToken"
        assert target["refresh"] == {"path": "/auth/refresh", "headers": {"X-CSRF-Token": "{csrf}"}}
    elif variant == "both":  # the refresh token alone refused: the access token goes back too
        assert target["refresh"] == {
            "path": "/auth/refresh",
            "json": {"accessToken": "{access_token}", "refreshToken": "{refresh_token}"},
        }
    elif variant == "bearer":  # the body refused, then taken as a Bearer token
        assert target["kind"] == "json"
        assert target["refresh"] == {
            "path": "/auth/refresh",
            "headers": {"Authorization": "Bearer {refresh_token}"},
        }
    else:  # body, form, session and guarded-logout
        assert target["kind"] == "json"
        # The refresh refused without the login's express-session cookie: it goes back too.
        assert target.get("session_cookies") == (["sid"] if variant == "session" else None)
        assert target["refresh_token_path"] == "refreshToken"
        assert target["refresh"] == {
            "path": "/auth/refresh",
            "json": {"refreshToken": "{refresh_token}"},
        }
    if variant == "guarded-logout":  # refused without the access token, and to a POST
        assert target["revoke"] == {
            "path": "/auth/logout",
            "method": "DELETE",
            "json": {"refreshToken": "{refresh_token}"},
            "headers": {"Authorization": "Bearer {access_token}"},
        }
        assert "the logout (DELETE /auth/logout) takes the session as the refresh" in made.stderr
    else:
        assert target["revoke"] == {**target["refresh"], "path": "/auth/logout"}
    assert "revokes nothing on the server" not in made.stderr
    ran = auth_stress(
        "run", str(out), "--no-progress", "--json", str(tmp_path / "r.json"),
        cwd=tmp_path, env={"APP_PASSWORD": "hunter2"},
    )  # fmt: skip
    assert ran.returncode == 1, ran.stdout + ran.stderr  # each variant's own bug is caught
    found = {f["checker"] for f in json.loads((tmp_path / "r.json").read_text())["findings"]}
    assert ("self-inflicted-logout" if variant.startswith("cookie") else "fork") in found
    # The protected API took the access tokens (the measurement's first use comes before any
    # refresh): they are sent as the API wants them (a cookie for `cookies`, with the session's
    # cookie for `session`).
    (history,) = (tmp_path / "runs").glob(
        "*-policy/history.jsonl" if measured else "*/history.jsonl"
    )
    records = [json.loads(line) for line in history.read_text().splitlines()]
    assert any(r.get("kind") == "use" and r.get("status") == 200 for r in records)
    # Every token went with the CSRF value issued with it, older ones too (the measurement's
    # replays, the run's probes of forked leaves): `csrf` refuses any other with a 403.
    for history in (tmp_path / "runs").glob("*/history.jsonl"):
        statuses = [json.loads(line).get("status") for line in history.read_text().splitlines()]
        assert 403 not in statuses, history
    if variant == "session":  # a replay logs in afresh and sends the new session's cookie
        report = json.loads((tmp_path / "r.json").read_text())
        number = next(f["number"] for f in report["findings"] if f["checker"] == "fork")
        (history,) = (tmp_path / "runs").glob("*/history.jsonl")
        again = auth_stress(
            "replay", str(history), "--finding", str(number), "--target", express_target.url,
            "--times", "3", "--json", str(tmp_path / "replay.json"),
            cwd=tmp_path, env={"APP_PASSWORD": "hunter2"},
        )  # fmt: skip
        assert again.returncode == 1, again.stdout + again.stderr
        assert json.loads((tmp_path / "replay.json").read_text())["reproduction"]["reproduced"]


def _init(url: str, *more: str) -> tuple[str, ...]:
    """``init`` for the Express-style target at ``url``: its paths and test users, ``more``."""
    return (
        "init", "--target", url, "--login-path", "/auth/login", "--refresh-path",
        "/auth/refresh", "--username", "user{n}@example.com", "--password-env", "APP_PASSWORD",
        "--yes", *more,
    )  # fmt: skip


@pytest.mark.parametrize("express_target", ["csrf-login"], indirect=True)
def test_a_login_that_wants_a_csrf_value_says_so_when_none_is_handed_out(
    express_target: ExpressTarget, tmp_path: Path
) -> None:
    base = _init(express_target.url)
    env = {"APP_PASSWORD": "hunter2"}
    unasked = auth_stress(*base, "--output", str(tmp_path / "a.toml"), cwd=tmp_path, env=env)
    assert unasked.returncode == 3, unasked.stdout + unasked.stderr
    assert "json {email, password}: 403" in unasked.stderr.replace("\n", " ")
    wrong = auth_stress(
        *base, "--output", str(tmp_path / "b.toml"), "--csrf-preflight", "/healthz",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert wrong.returncode == 3, wrong.stdout + wrong.stderr
    assert "the CSRF preflight GET" in wrong.stderr
    assert "/healthz handed out no value" in wrong.stderr.replace("\n", " ")
    # A scenario whose preflight hands out nothing: the run says so, it does not log in blind.
    made = auth_stress(
        *base, "--output", str(tmp_path / "c.toml"), "--csrf-preflight", "/auth/csrf",
        "--policy", "strict", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    scenario = tmp_path / "c.toml"
    text = scenario.read_text()
    assert 'csrf_preflight = "/auth/csrf"' in text
    scenario.write_text(
        text.replace('csrf_preflight = "/auth/csrf"', 'csrf_preflight = "/healthz"')
    )
    ran = auth_stress(
        "run", str(scenario), "--no-progress", "--json", str(tmp_path / "r.json"),
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert ran.returncode == 3, ran.stdout + ran.stderr
    reason = json.loads((tmp_path / "r.json").read_text())["inconclusive_reason"]
    assert "the CSRF preflight GET" in reason
    assert "/healthz handed out no value (it answered 200 without one)" in reason


@pytest.mark.parametrize("express_target", ["body"], indirect=True)
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--login-json", '{"user": "{username}", "pass": "{password}"}'),
         "the login at /auth/login refused every body tried (json {user, pass}: 401"),
        (("--refresh-cookie", "sid"), "the login at /auth/login set no cookie sid"),
        (("--password-env", "APP_WRONG"),
         "refused every body tried (json {username, password}: 401"),
    ],
)  # fmt: skip
def test_a_custom_api_that_does_not_answer_as_expected_exits_3_saying_why(
    express_target: ExpressTarget, tmp_path: Path, flags: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "custom.toml"
    base = ("--login-path", "/auth/login", "--refresh-path", "/auth/refresh", "--yes")
    env = {"APP_PASSWORD": "hunter2", "APP_WRONG": "not-it"}
    password = () if "--password-env" in flags else ("--password-env", "APP_PASSWORD")
    made = auth_stress(
        "init", "--target", express_target.url, "--output", str(out), *base, *password, *flags,
        "--username", "user{n}@example.com", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert made.returncode == 3, made.stdout + made.stderr
    assert message in made.stderr.replace("\n", " ")
    assert "hunter2" not in made.stderr
    assert "not-it" not in made.stderr
    assert not out.exists()


@pytest.mark.parametrize("express_target", ["cookies"], indirect=True)
def test_policy_measures_a_custom_api_named_by_its_paths(
    express_target: ExpressTarget, tmp_path: Path
) -> None:
    history = tmp_path / "policy.jsonl"
    measured = auth_stress(
        "policy", "--target", express_target.url, "--login-path", "/auth/login",
        "--refresh-path", "/auth/refresh", "--username", "user{n}@example.com",
        "--password-env", "APP_PASSWORD", "--resource", "/api/profile", "--grace-max", "3",
        "--history", str(history), cwd=tmp_path, env={"APP_PASSWORD": "hunter2"},
    )  # fmt: skip
    assert measured.returncode == 0, measured.stdout + measured.stderr
    assert "access token in the cookie at, refresh token in the cookie rt" in measured.stderr
    # The app's bug, measured: strict single use whose reuse revokes the family.
    assert 'reuse_revokes = "family"' in measured.stdout
    assert 'kind = "strict"' in measured.stdout
    command = json.loads(history.read_text().splitlines()[0])["command"]
    assert command[command.index("--login-path") + 1] == "/auth/login"
    assert "hunter2" not in history.read_text()


def test_an_https_api_with_its_own_certificate_is_learnt_and_run_with_its_ca_file(
    cert_files: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = cert_files
    port = free_port()
    argv = [sys.executable, "-m", "tests.targets.express_style", "--variant", "body"]
    argv += ["--port", str(port), "--ssl-cert", str(cert), "--ssl-key", str(key)]
    out = tmp_path / "tls.toml"
    env = {"APP_PASSWORD": "hunter2"}
    flags = (
        "--login-path", "/auth/login", "--refresh-path", "/auth/refresh", "--username",
        "user{n}@example.com", "--password-env", "APP_PASSWORD", "--grace-max", "3", "--yes",
    )  # fmt: skip
    with serving(argv, port, tmp_path / "tls.log", name="https target", ca_file=cert) as url:
        refused = auth_stress(
            "init", "--target", url, "--output", str(out), *flags, cwd=tmp_path, env=env
        )
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr
        assert "Traceback" not in refused.stderr
        made = auth_stress(
            "init", "--target", url, "--output", str(out), *flags, "--ca-file", str(cert),
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert made.returncode == 0, made.stdout + made.stderr
        assert f"auth-stress run {out} --ca-file {cert}" in made.stdout
        ran = auth_stress(
            "run", str(out), "--no-progress", "--ca-file", str(cert), "--json",
            str(tmp_path / "r.json"), cwd=tmp_path, env=env,
        )  # fmt: skip
    assert ran.returncode == 1, ran.stdout + ran.stderr  # the body variant's fork, over TLS
    found = {f["checker"] for f in json.loads((tmp_path / "r.json").read_text())["findings"]}
    assert "fork" in found


@pytest.mark.parametrize("express_target", ["gateway"], indirect=True)
def test_a_gateway_key_goes_with_every_request_and_stays_out_of_every_file(
    express_target: ExpressTarget, tmp_path: Path
) -> None:
    base = _init(
        express_target.url, "--revoke-path", "/auth/logout", "--resource", "/api/profile",
        "--grace-max", "1",
    )  # fmt: skip
    env = {"APP_PASSWORD": "hunter2", "GATEWAY_KEY": "demo-anon-key"}
    keyless = auth_stress(*base, "--output", str(tmp_path / "a.toml"), cwd=tmp_path, env=env)
    assert keyless.returncode == 3, keyless.stdout + keyless.stderr
    assert "No API key found in request" in keyless.stderr
    out = tmp_path / "gateway.toml"
    made = auth_stress(
        *base, "--output", str(out), "--header-env", "apikey=GATEWAY_KEY",
        "--header", "X-Client-Info: auth-stress", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    target = tomllib.loads(out.read_text())["target"]
    assert target["headers_env"] == {"apikey": "GATEWAY_KEY"}
    assert target["headers"] == {"X-Client-Info": "auth-stress"}
    ran = auth_stress(
        "run", str(out), "--no-progress", "--json", str(tmp_path / "r.json"),
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert ran.returncode == 1, ran.stdout + ran.stderr  # the fork behind the gateway is caught
    found = {f["checker"] for f in json.loads((tmp_path / "r.json").read_text())["findings"]}
    assert "fork" in found
    histories = list((tmp_path / "runs").glob("*/history.jsonl"))
    assert len(histories) == 2  # the measurement's and the run's
    records = [json.loads(line) for h in histories for line in h.read_text().splitlines()]
    assert any(r.get("kind") == "use" and r.get("status") == 200 for r in records)
    assert not any("No API key" in json.dumps(r) for r in records)
    # The key is the variable's placeholder in the reproducer's templates, and nowhere else.
    assert "$GATEWAY_KEY" in histories[0].read_text() + histories[1].read_text()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in written if "demo-anon-key" in p.read_text(errors="replace")]
    assert "demo-anon-key" not in made.stdout + made.stderr + ran.stdout + ran.stderr
    unset = auth_stress("run", str(out), "--no-progress", cwd=tmp_path, env={"APP_PASSWORD": "x"})
    assert unset.returncode == 2, unset.stdout + unset.stderr
    assert "GATEWAY_KEY" in unset.stderr


@pytest.mark.parametrize("express_target", ["origin-checked"], indirect=True)
def test_an_api_that_checks_the_origin_is_sent_its_own_as_a_browser_sends_it(
    express_target: ExpressTarget, tmp_path: Path
) -> None:
    out = tmp_path / "origin.toml"
    made = auth_stress(
        *_init(express_target.url, "--revoke-path", "/auth/logout", "--grace-max", "1"),
        "--output", str(out), cwd=tmp_path, env={"APP_PASSWORD": "hunter2"},
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    assert "origin" not in {name.lower() for name in tomllib.loads(out.read_text())["target"]}
    ran = auth_stress(
        "run", str(out), "--no-progress", "--json", str(tmp_path / "r.json"),
        cwd=tmp_path, env={"APP_PASSWORD": "hunter2"},
    )  # fmt: skip
    assert ran.returncode == 1, ran.stdout + ran.stderr  # the fork behind the check is caught
    found = {f["checker"] for f in json.loads((tmp_path / "r.json").read_text())["findings"]}
    assert "fork" in found
    assert "Origin checking failed" not in ran.stdout


APP_ENV = {"APP_PASSWORD": "hunter2"}


def _learnt(express_target: ExpressTarget, tmp_path: Path) -> tuple[Path, CompletedProcess[str]]:
    """The scenario init writes for the app, with its logout and API, and init's process."""
    out = tmp_path / "app.toml"
    made = auth_stress(
        *_init(express_target.url), "--output", str(out), "--revoke-path", "/auth/logout",
        "--resource", "/api/profile", "--policy", "strict", cwd=tmp_path, env=APP_ENV,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    return out, made


def _stepped(scenario: Path, *ops: str) -> Path:
    """A copy of ``scenario`` whose steps are ``ops``, one session-wide op each, in order."""
    stepped = scenario.with_name(f"{scenario.stem}-{'-'.join(ops)}.toml")
    target = scenario.read_text().split("[[steps]]")[0]
    stepped.write_text(target + "".join(f'[[steps]]\nop = "{op}"\n\n' for op in ops))
    return stepped


@pytest.mark.parametrize("express_target", ["redirects"], indirect=True)
def test_a_server_rendered_apps_redirects_are_read_as_its_browser_reads_them(
    express_target: ExpressTarget, tmp_path: Path
) -> None:
    """A form login and a refresh that answer 302 with their cookies went through; a logout
    that answers 303 to the sign-in page logged out. Read as rejections, init could not learn
    the app and a run judged every refresh refused."""
    out, _ = _learnt(express_target, tmp_path)
    target = tomllib.loads(out.read_text())["target"]
    assert (target["kind"], target["access_cookie"], target["refresh_cookie"]) == (
        "cookie", "at", "rt",
    )  # fmt: skip
    assert target["login"]["form"] == {"username": "{username}", "password": "{password}"}
    assert target["revoke"] == {"path": "/auth/logout"}
    ran = auth_stress(
        "run",
        str(out),
        "--no-progress",
        "--json",
        str(tmp_path / "r.json"),
        cwd=tmp_path,
        env=APP_ENV,
    )
    assert ran.returncode == 1, ran.stdout + ran.stderr
    found = {f["checker"] for f in json.loads((tmp_path / "r.json").read_text())["findings"]}
    assert "fork" in found
    # One tab at a time, then a logout: a pass, with the logout and its effect recorded.
    sequential = _stepped(out, "login", "refresh", "use", "revoke", "use")
    again = auth_stress(
        "run", str(sequential), "--no-progress", "--json", str(tmp_path / "s.json"),
        "--history", str(tmp_path / "s.jsonl"), cwd=tmp_path, env=APP_ENV,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    records = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    done = {(r["kind"], r.get("status"), r["type"]) for r in records if r.get("type") in OUTCOMES}
    assert ("refresh", 302, "ok") in done
    assert ("revoke", 303, "ok") in done
    assert ("use", 401, "fail") in done


@pytest.mark.parametrize("express_target", ["scoped-cookie"], indirect=True)
def test_a_refresh_cookie_set_for_the_refresh_path_only_is_not_sent_to_the_logout(
    express_target: ExpressTarget, tmp_path: Path
) -> None:
    """The app sets `rt` for `Path=/auth/refresh`: a browser sends it to the refresh and to
    nothing else, so its logout at /auth/logout gets no token and revokes nothing. A tester
    that sent the cookie everywhere saw a logout that works, which no browser makes."""
    out, made = _learnt(express_target, tmp_path)
    said = " ".join(made.stderr.split())
    assert "refresh token in the cookie rt (set for the path /auth/refresh only)" in said
    assert "(a browser sends it no rt cookie, which is set for /auth/refresh only)" in said
    assert "revokes nothing on the server" in said
    target = tomllib.loads(out.read_text())["target"]
    assert (target["refresh_cookie"], target["refresh_cookie_path"]) == ("rt", "/auth/refresh")
    logout = _stepped(out, "login", "refresh", "revoke", "refresh")
    ran = auth_stress(
        "run", str(logout), "--no-progress", "--json", str(tmp_path / "r.json"),
        "--history", str(tmp_path / "h.jsonl"), cwd=tmp_path, env=APP_ENV,
    )  # fmt: skip
    assert ran.returncode == 1, ran.stdout + ran.stderr
    found = {f["checker"] for f in json.loads((tmp_path / "r.json").read_text())["findings"]}
    assert found == {"revocation-race"}
    # The cookie without its Path makes the logout work: it was the path, not the server.
    whole_site = tmp_path / "whole-site.toml"
    whole_site.write_text(logout.read_text().replace('refresh_cookie_path = "/auth/refresh"', ""))
    everywhere = auth_stress(
        "run", str(whole_site), "--no-progress", cwd=tmp_path, env=APP_ENV,
    )  # fmt: skip
    assert everywhere.returncode == 0, everywhere.stdout + everywhere.stderr


def _failing_checkers(scenario: Path, tmp_path: Path) -> set[str]:
    """The checkers with findings in a run of ``scenario``, which must fail (exit 1)."""
    ran = auth_stress(
        "run", str(scenario), "--no-progress", "--json", str(tmp_path / "r.json"),
        cwd=tmp_path, env=APP_ENV,
    )  # fmt: skip
    assert ran.returncode == 1, ran.stdout + ran.stderr
    return {f["checker"] for f in json.loads((tmp_path / "r.json").read_text())["findings"]}


@pytest.mark.parametrize("express_target", ["get-routes"], indirect=True)
def test_a_refresh_and_a_logout_that_are_get_routes_are_learnt_and_run(
    express_target: ExpressTarget, tmp_path: Path
) -> None:
    """The app's refresh and logout are GET routes reading the cookie ``rt`` (a POST answers
    405): init learns both as GETs, and the run finds the app's multi-tab logout."""
    out, made = _learnt(express_target, tmp_path)
    target = tomllib.loads(out.read_text())["target"]
    assert target["refresh"] == {"path": "/auth/refresh", "method": "GET"}
    assert target["revoke"] == {"path": "/auth/logout", "method": "GET"}
    assert "Traceback" not in made.stderr
    assert "self-inflicted-logout" in _failing_checkers(out, tmp_path)


@pytest.mark.parametrize("express_target", ["nested-login"], indirect=True)
def test_a_login_that_answers_its_tokens_elsewhere_than_the_refresh_is_learnt(
    express_target: ExpressTarget, tmp_path: Path
) -> None:
    """The login answers ``{user, tokens: {...}}``, the refresh the tokens alone: init keeps
    each answer's paths, and the run reads each where it is and finds the app's fork."""
    out, made = _learnt(express_target, tmp_path)
    said = " ".join(made.stderr.split())
    assert "access token at accessToken (the login's at tokens.accessToken)" in said
    target = tomllib.loads(out.read_text())["target"]
    assert (target["access_token_path"], target["refresh_token_path"]) == (
        "accessToken", "refreshToken",
    )  # fmt: skip
    assert (target["login_access_token_path"], target["login_refresh_token_path"]) == (
        "tokens.accessToken", "tokens.refreshToken",
    )  # fmt: skip
    assert target["refresh"]["json"] == {"refreshToken": "{refresh_token}"}
    assert "fork" in _failing_checkers(out, tmp_path)
