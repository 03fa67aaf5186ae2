"""How each session gets its first token pair: a password login, or a mint command.

``password`` sends the OAuth 2.0 password grant (or the scenario's ``[target.login]`` request)
with the session's username. ``mint`` runs the scenario's ``auth.command`` once per session, for
targets whose login is not an HTTP form (an SSO flow, a device grant, a test fixture). The mint
contract:

- each argument may hold ``{n}`` (the session number), ``{username}`` (``auth.username`` for
  that session), ``{target}`` (the session's target base URL, no trailing slash) and
  ``{port}`` (its port);
- it runs in the scenario file's folder, so ``./mint.sh`` names a file beside the scenario;
- it must exit 0 and print one JSON object on stdout holding the tokens at the scenario's
  ``target.access_token_path`` and ``target.refresh_token_path`` (dotted paths, default
  ``access_token`` and ``refresh_token``), and the value of each of ``target.session_cookies``
  under its name;
- a failure is reported with the exit status and the end of its stderr, never parsed further;
- it is started through :func:`stress.lifeline.guarded`, so that it stops when the run is
  killed outright.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from urllib.parse import urlsplit

import anyio

from stress.drive.actions import Actions
from stress.drive.session import SessionState
from stress.errors import ScenarioError
from stress.lifeline import exec_failure, guarded
from stress.scenario import AuthSpec
from stress.target import TokenPair, json_path
from stress.types import NOT_OAUTH

__all__ = ["Logins", "MintError", "resolve_password"]

logger = logging.getLogger(__name__)

_STDERR_LINES = 5


# RFC 6749 section 5.2 errors that say the grant itself is refused, not the credentials.
_NO_PASSWORD_GRANT = frozenset({"unsupported_grant_type", "unauthorized_client"})
# The errors of a server that wants DPoP proofs (RFC 9449 sections 7.1 and 8).
_DPOP_WANTED = frozenset({"invalid_dpop_proof", "use_dpop_nonce"})


class MintError(Exception):
    """The mint command did not produce a token pair; the message says why."""


def resolve_password(auth: AuthSpec) -> str:
    """The test users' password: literal, or from ``auth.password_env``."""
    if auth.mode != "password":
        return ""
    if auth.password_env is not None:
        value = os.environ.get(auth.password_env)
        if value is None:
            raise ScenarioError(
                f"auth.password_env: environment variable {auth.password_env} is not set"
            )
        return value
    return auth.password or ""


class Logins:
    """Logs sessions in; ``attempts``, ``families`` and ``problem`` tell the driver how it went."""

    def __init__(self, actions: Actions, auth: AuthSpec, scenario_dir: Path | None) -> None:
        self.actions = actions
        self.auth = auth
        self.scenario_dir = scenario_dir
        self.password = resolve_password(auth)
        self.attempts = 0
        self.families = 0
        self.problem: str | None = None

    async def login(self, state: SessionState) -> bool:
        """Start a new family for the session; False when it got no pair."""
        self.attempts += 1
        pair = await (self._mint(state) if self.auth.mode == "mint" else self._password(state))
        if pair is None:
            return False
        if pair.refresh is None:
            self.problem = (
                "login succeeded but returned no refresh token "
                "(does the client need a scope such as offline_access?)"
            )
            return False
        state.start_family(pair.refresh, pair.access, self.actions.recorder.fp, pair.csrf)
        self.families += 1
        return True

    def username(self, state: SessionState) -> str:
        return self.auth.username.replace("{n}", str(state.n))

    async def _password(self, state: SessionState) -> TokenPair | None:
        actions = self.actions
        csrf = None
        if actions.profile.spec.csrf_preflight is not None:
            csrf = await self._preflight(state)
            if csrf is None:
                return None
        request = actions.profile.login(
            actions.base(state), self.username(state), self.password, state.n, csrf, state.cookies
        )
        _, parsed = await actions.send(state, "login", request, None)
        if parsed.outcome != "ok" or parsed.tokens is None:
            self.problem = f"login answered {parsed.outcome} ({parsed.error})"
            if actions.profile.spec.kind == "oauth2" and parsed.error in _NO_PASSWORD_GRANT:
                self.problem += (
                    ": the server does not take the password grant from this client; log "
                    'sessions in with a command instead (auth.mode = "mint", or '
                    "--mint-command for init and policy)"
                )
            spec = actions.profile.spec
            if parsed.error == NOT_OAUTH:
                self.problem += (
                    ": a 3xx or 4xx without an OAuth 2.0 error, likely not the token endpoint's "
                    "own answer (a firewall, a proxy or a sign-in page in front of it?); check "
                    "the token endpoint's URL and what answers it"
                )
            if spec.kind == "oauth2" and not spec.dpop and parsed.error in _DPOP_WANTED:
                self.problem += (
                    ": the server wants a DPoP proof from this client; set target.dpop = true "
                    "(--dpop for init and policy)"
                )
            return None
        tokens = parsed.tokens
        if actions.profile.spec.csrf_preflight_after_login:
            # The login replaced the session's value: the preflight hands out the new one.
            csrf = await self._preflight(state)
            if csrf is None:
                return None
            return TokenPair(access=tokens.access, refresh=tokens.refresh, csrf=csrf)
        if csrf is not None and tokens.csrf is None:  # no new value: the preflight's holds
            return TokenPair(access=tokens.access, refresh=tokens.refresh, csrf=csrf)
        return tokens

    async def _preflight(self, state: SessionState) -> str | None:
        """The CSRF value ``target.csrf_preflight`` hands this session before its login (and
        after it, with ``target.csrf_preflight_after_login``).

        None when it hands out none: the login is then recorded as failed, with why, since a
        login sent without the value would only be refused for it.
        """
        actions = self.actions
        request = actions.profile.preflight(actions.base(state), state.cookies)
        outcome = await actions.wire.request(request, timeout=actions.run.op_timeout_seconds)
        response = outcome.response
        if response is not None:  # csurf's secret cookie comes with the preflight's value
            state.set_cookies(actions.profile.session_cookies(response))
        if response is not None and 200 <= response.status < 300:
            csrf = actions.profile.csrf(response)
            if csrf is not None:
                return csrf
        said = (
            f"it answered {response.status} without one"
            if response is not None
            else f"no answer: {outcome.error or 'error'}"
        )
        logger.warning(
            "CSRF preflight handed out no value",
            extra={"url": request.url, "session": state.n, "error": said},
        )
        recorder = actions.recorder
        recorder.count()
        invoke = recorder.invoke(
            recorder.tab(state, 0), state, "login", None, step="csrf-preflight"
        )
        recorder.complete(invoke, "fail", None, None, error="csrf-preflight-failed")
        self.problem = f"the CSRF preflight GET {request.url} handed out no value ({said})"
        return None

    def _argv(self, state: SessionState) -> list[str]:
        base = self.actions.base(state).rstrip("/")
        parts = urlsplit(base)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        values = {
            "n": str(state.n),
            "username": self.username(state),
            "target": base,
            "port": str(port),
        }
        argv = []
        for arg in self.auth.command or []:
            for key, value in values.items():
                arg = arg.replace("{" + key + "}", value)
            argv.append(arg)
        program = Path(argv[0]) if argv else None
        if program is not None and not program.is_absolute() and len(program.parts) > 1:
            argv[0] = str((self.scenario_dir or Path.cwd()) / program)
        return argv

    async def _mint(self, state: SessionState) -> TokenPair | None:
        actions = self.actions
        recorder = actions.recorder
        argv = self._argv(state)
        recorder.count()
        invoke = recorder.invoke(recorder.tab(state, 0), state, "login", None, step="mint")
        try:
            pair, cookies = await self._run_mint(argv)
        except MintError as exc:
            # The scenario's command failed, not the tester: said in one line, no traceback.
            logger.warning(
                "mint command failed",
                extra={"command": argv[0] if argv else "", "session": state.n, "error": str(exc)},
            )
            recorder.complete(invoke, "fail", None, None, error="mint-failed")
            self.problem = f"mint command failed: {exc}"
            return None
        recorder.complete(invoke, "ok", pair, None)
        state.set_cookies(cookies)
        return pair

    async def _run_mint(self, argv: list[str]) -> tuple[TokenPair, dict[str, str]]:
        """The pair the command printed, and the session cookies it printed with it."""
        cwd = self.scenario_dir or Path.cwd()
        unstarted = {
            "FileNotFoundError": f"{argv[0]}: no such program (run from {cwd})",
            "PermissionError": f"{argv[0]}: not executable",
        }
        try:
            with anyio.fail_after(self.actions.run.op_timeout_seconds):
                # Guarded: a tester killed outright does not leave the command running.
                result = await anyio.run_process(guarded(argv), check=False, cwd=cwd)
        except (FileNotFoundError, PermissionError) as exc:
            raise MintError(unstarted[type(exc).__name__]) from exc
        except TimeoutError as exc:
            seconds = self.actions.run.op_timeout_seconds
            raise MintError(f"{argv[0]}: no answer within {seconds:g}s") from exc
        failure = exec_failure(result.returncode, result.stderr)
        if failure is not None:
            raise MintError(unstarted.get(failure, f"{argv[0]}: cannot be run ({failure})"))
        if result.returncode != 0:
            tail = result.stderr.decode(errors="replace").strip().splitlines()[-_STDERR_LINES:]
            said = ("; stderr: " + " | ".join(tail)) if tail else " (no stderr)"
            raise MintError(f"{argv[0]} exited with status {result.returncode}{said}")
        try:
            document = json.loads(result.stdout)
        except ValueError as exc:
            raise MintError(f"{argv[0]} printed no JSON object on stdout: {exc}") from exc
        spec = self.actions.profile.spec
        access_path, refresh_path = self.actions.profile.token_paths(login=True)
        tokens: dict[str, str] = {}
        for name, path in (("access", access_path), ("refresh", refresh_path or "refresh_token")):
            value = json_path(document, path)
            if not isinstance(value, str) or not value:
                raise MintError(f"{argv[0]} printed no {name} token at `{path}`")
            tokens[name] = value
        # A command cannot set a cookie: it prints the CSRF value under the cookie's name.
        where = spec.csrf_token_path or spec.csrf_cookie
        csrf = json_path(document, where) if where is not None else None
        if where is not None and (not isinstance(csrf, str) or not csrf):
            raise MintError(f"{argv[0]} printed no CSRF value at `{where}`")
        cookies = {}
        for name in spec.session_cookies:  # the same for the session's cookies
            value = document.get(name) if isinstance(document, dict) else None
            if not isinstance(value, str) or not value:
                raise MintError(f"{argv[0]} printed no value for the session cookie `{name}`")
            cookies[name] = value
        pair = TokenPair(access=tokens["access"], refresh=tokens["refresh"], csrf=csrf)
        return pair, cookies
