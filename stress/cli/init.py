"""The ``auth-stress init`` command: flags and prompts in, a starter scenario file out.

The work itself (discovery, rendering, validation) is :mod:`stress.starter`. Exit codes: 0 written,
2 usage error (bad flag value, file exists without ``--force``), 3 target unreachable or without
discovery metadata.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, cast, get_args

import typer

from stress.cli.output import fail, stderr, stdout
from stress.errors import ScenarioError, TargetError
from stress.starter import PolicyName, StarterAnswers, discover_endpoints, render_starter
from stress.types import ExitCode
from stress.wire import run as run_async

__all__ = ["init_command"]

_POLICIES: tuple[str, ...] = get_args(PolicyName)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _ask(value: str | None, prompt: str, default: str, yes: bool) -> str:
    if value is not None:
        return value
    if yes:
        return default
    return cast(str, typer.prompt(prompt, default=default))


def init_command(
    target: Annotated[
        str, typer.Option(help="Base URL of the authorization server (discovery is run there).")
    ],
    output: Annotated[Path, typer.Option(help="Where to write the scenario.")] = Path(
        "auth-stress.toml"
    ),
    client_id: Annotated[str | None, typer.Option(help="OAuth client id (empty for none).")] = None,
    username: Annotated[
        str | None, typer.Option(help="Test user template; {n} is the session number.")
    ] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the test users' password.")
    ] = None,
    policy: Annotated[str | None, typer.Option(help="strict, idempotent, overlap or none.")] = None,
    grace: Annotated[
        float | None, typer.Option(help="Grace window in seconds (0 for strict).")
    ] = None,
    resource: Annotated[
        str | None, typer.Option(help="Protected API path for `use` steps (empty for none).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Scenario name.")] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask: defaults for whatever flags omit.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output file.")] = False,
) -> None:
    """Discover a target's endpoints and write a starter scenario that `check` accepts."""
    if not re.match(r"^https?://[^/\s]+", target):
        raise fail(ExitCode.USAGE, f"--target {target!r}: expected an http:// or https:// base URL")
    if output.exists() and not force:
        raise fail(ExitCode.USAGE, f"{output} exists; pass --force to overwrite it")
    if policy is not None and policy not in _POLICIES:
        raise fail(ExitCode.USAGE, f"--policy {policy!r}: expected {', '.join(_POLICIES)}")
    if grace is not None and grace < 0:
        raise fail(ExitCode.USAGE, f"--grace {grace:g}: expected seconds >= 0")
    try:
        endpoints = run_async(discover_endpoints, target)
    except TargetError as exc:
        raise fail(ExitCode.INCONCLUSIVE, str(exc)) from None
    stderr.print(
        f"discovered: token {endpoints.token}, revocation {endpoints.revocation or '-'}, "
        f"jwks {endpoints.jwks or '-'}",
        highlight=False,
        soft_wrap=True,
    )
    client = _ask(client_id, "OAuth client id (empty for none)", "", yes)
    user = _ask(username, "Test user template ({n} = session number)", "user{n}", yes)
    secret_env = _ask(password_env, "Env var with the test password", "AUTH_STRESS_PASSWORD", yes)
    if not _ENV_NAME.match(secret_env):
        raise fail(
            ExitCode.USAGE, f"--password-env {secret_env!r}: not an environment variable name"
        )
    chosen = _ask(policy, f"Policy ({', '.join(_POLICIES)})", "idempotent", yes)
    if chosen not in _POLICIES:
        raise fail(ExitCode.USAGE, f"policy {chosen!r}: expected {', '.join(_POLICIES)}")
    default_grace = "0" if chosen in ("strict", "none") else "5"
    window = _ask(None if grace is None else f"{grace:g}", "Grace seconds", default_grace, yes)
    try:
        grace_seconds = float(window)
    except ValueError:
        raise fail(ExitCode.USAGE, f"grace {window!r}: expected a number of seconds") from None
    api = _ask(resource, "Protected API path for `use` steps (empty for none)", "", yes)
    answers = StarterAnswers(
        target=target,
        name=name or output.stem,
        client_id=client or None,
        username=user,
        password_env=secret_env,
        policy=cast(PolicyName, chosen),
        grace_seconds=grace_seconds,
        resource=api or None,
    )
    try:
        text, _ = render_starter(answers, endpoints)
    except ScenarioError as exc:
        raise fail(ExitCode.USAGE, str(exc)) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    stdout.print(f"wrote {output}", highlight=False, soft_wrap=True)
    stdout.print(
        f"next: export {secret_env}=...; auth-stress check {output}; auth-stress run {output}",
        highlight=False,
        soft_wrap=True,
    )
