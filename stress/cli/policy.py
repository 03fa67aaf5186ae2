"""``auth-stress policy``: measure a target's refresh-token policy, print it, write it, compare it.

Auth comes from a scenario when one is given (its target kind, token paths, password grant or
mint command); without one, the target is an RFC 6749 server found by discovery and logged into
with the password grant, as ``init`` does (``--client-id``, ``--username``, ``--password-env``,
or ``--mint-command`` for a server without the password grant; for servers discovery cannot
describe or confidential clients the same endpoint, secret and scope flags as ``init``; for a
custom JSON or cookie API its paths, ``--login-path`` and ``--refresh-path``, as ``init``).
The measurement itself is :mod:`stress.measure`; this module parses options, renders the result
and picks the exit code.

Exit codes: 0 measured (and, with ``--expect``, the declared policy agrees) · 1 ``--expect``
found a drifted field · 2 usage error, invalid scenario · 3 target unreachable, no session could
log in, nothing measurable, the measurement was interrupted, or (with ``--expect``) a bound cut
it short · 4 internal error.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from stress.cli.client_options import (
    ClientAssertionAudience,
    ClientAuthOption,
    ClientCertEnv,
    ClientCertKeyEnv,
    ClientKeyEnv,
    ClientKeyId,
    ClientSecretEnv,
    DpopOption,
    HeaderEnvOption,
    HeaderOption,
    JwksUri,
    MintCommand,
    RevocationEndpoint,
    Scope,
    TokenEndpoint,
    checked_client_setup,
    client_certificate,
    client_flags,
    header_setup,
    login_flags,
    mint_login,
    needed_variables,
    password_login,
    refuse_mint_with_password,
    require_variables,
    sent_headers,
)
from stress.cli.custom_options import (
    CsrfPreflight,
    LoginJson,
    LoginPath,
    RefreshCookie,
    RefreshJson,
    RefreshPath,
    RevokeJson,
    RevokePath,
    custom_flags,
    custom_paths,
    oauth_only,
    probe,
)
from stress.cli.output import LogLevel, fail, load, stderr, stdout
from stress.cli.target_options import CaFile
from stress.cli.use_options import UseJson, UseMethod, UseShape, use_call, use_shape
from stress.custom_probe import CustomPaths
from stress.errors import ScenarioError, TargetError
from stress.http_tls import Verify, verify_setting
from stress.interrupt import Interrupted
from stress.logs import setup_logging
from stress.measure.drift import drift
from stress.measure.prober import Bounds
from stress.measure.result import Evidence, Measurement, measurement_json, policy_toml
from stress.measure.runner import (
    ProbeSetup,
    default_history_path,
    flag_scenario,
    measure_policy,
)
from stress.measure.search import worst_case_seconds
from stress.policy import Policy
from stress.run_record import INCONCLUSIVE_ENDS
from stress.scenario import Scenario
from stress.starter import ClientSetup, Login, PasswordLogin
from stress.types import ExitCode
from stress.wire import run as run_async

__all__ = [
    "check_bounds",
    "measured_comments",
    "policy_command",
    "retirement_note",
    "run_measurement",
]

_URL = re.compile(r"^https?://[^/\s]+")
_PASSWORD_ENV = "AUTH_STRESS_PASSWORD"
_EVIDENCE_SHOWN = 4
_COMMENT_WIDTH = 92  # a "# " comment line of a written block, within 95 columns
# Time the trials other than the grace search take, beyond their sleeps (logins, the burst).
_OVERHEAD_SECONDS = 10.0


def check_bounds(bounds: Bounds) -> None:
    """Exit 2 naming the option when the bounds cannot work together."""
    if not 0 < bounds.grace_max <= 3600:
        raise fail(
            ExitCode.USAGE, f"--grace-max {bounds.grace_max:g}: expected 0 < seconds <= 3600"
        )
    if not 0.01 <= bounds.resolution <= bounds.grace_max:
        raise fail(
            ExitCode.USAGE,
            f"--resolution {bounds.resolution:g}: expected seconds from 0.01 to --grace-max",
        )
    if not 2 <= bounds.burst <= 256:
        raise fail(ExitCode.USAGE, f"--burst {bounds.burst}: expected 2 to 256 requests")
    if bounds.max_requests < 50:
        raise fail(ExitCode.USAGE, f"--max-requests {bounds.max_requests}: expected at least 50")
    needed = worst_case_seconds(bounds.grace_max) + _OVERHEAD_SECONDS
    if bounds.max_seconds < needed:
        raise fail(
            ExitCode.USAGE,
            f"--grace-max {bounds.grace_max:g} may need up to {needed:.0f} s of measuring, more "
            f"than --max-seconds {bounds.max_seconds:g}: raise --max-seconds or lower --grace-max",
        )


def run_measurement(setup: ProbeSetup, bounds: Bounds) -> Measurement:
    """Measure, mapping the errors that stop a measurement before it starts to exit codes."""
    try:
        return run_async(measure_policy, setup, bounds)
    except TargetError as exc:
        raise fail(ExitCode.INCONCLUSIVE, str(exc)) from None
    except ScenarioError as exc:
        raise fail(ExitCode.USAGE, str(exc)) from None
    except Interrupted as exc:
        raise fail(ExitCode.INCONCLUSIVE, str(exc)) from None
    except KeyboardInterrupt:
        # Before the measurement's own watch began (as its event loop started).
        raise fail(ExitCode.INCONCLUSIVE, "interrupted before the measurement started") from None


def retirement_note(measurement: Measurement) -> str | None:
    """What to make of a target that rejected no replay (see ``Measurement.retires_nothing``),
    or None when one was rejected."""
    if not measurement.retires_nothing:
        return None
    grace, generations = measurement.field("grace_seconds"), measurement.field("generations")
    unused = (
        ""
        if measurement.field("use_retires").measured
        else "; and give --resource (target.resource): a target may retire the previous token "
        "only once the new access token is used (Doorkeeper does), which only a use shows"
    )
    return (
        f"no replay was rejected: the previous refresh token still worked {grace.value:.3g} s "
        f"after its rotation (--grace-max), and so did one {generations.value} generations "
        "back. The target may keep every refresh token it issued valid (Keycloak does, unless "
        'the realm\'s "Revoke Refresh Token" is on): its refreshes then rotate nothing, and '
        'kind = "none" describes it. If not, raise --grace-max to find where the window ends'
        + unused
    )


def measured_comments(measurement: Measurement) -> list[str]:
    """The comment lines that say where a written ``[policy]`` block comes from."""
    lines = [
        f"Measured by `auth-stress policy` against {measurement.target} at "
        f"{measurement.measured_at}."
    ]
    bracket = measurement.grace
    if bracket is not None and bracket.accepted_at is not None:
        rejected = (
            f"rejected within {bracket.rejected_at:.3f} s"
            if bracket.rejected_at is not None
            else f"not rejected up to --grace-max {bracket.grace_max:g} s"
        )
        lines.append(
            f"Grace: replays accepted {bracket.accepted_at:.3f} s after the rotation, {rejected} "
            f"(resolution {bracket.resolution:.3g} s)."
        )
    spared = measurement.tolerance
    if spared is not None and spared.accepted_at is not None and spared.rejected_at is not None:
        lines.append(
            f"Tolerance: a rejected reuse {spared.accepted_at:.3f} s after the rotation revoked "
            f"nothing, one within {spared.rejected_at:.3f} s revoked "
            f"(resolution {spared.resolution:.3g} s)."
        )
    unmeasured = [f.name for f in measurement.fields if not f.measured]
    if unmeasured:
        lines.append(f"Not measured (left at their defaults): {', '.join(unmeasured)}.")
    note = retirement_note(measurement)
    if note is not None:
        lines += textwrap.wrap(note[0].upper() + note[1:] + ".", _COMMENT_WIDTH)
    return lines


def _show(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}" if isinstance(value, float) else str(value)


def _evidence_lines(evidence: list[Evidence]) -> list[str]:
    lines = [f"    #{e.op} {e.summary}" for e in evidence[:_EVIDENCE_SHOWN]]
    if len(evidence) > _EVIDENCE_SHOWN:
        rest = ", ".join(f"#{e.op}" for e in evidence[_EVIDENCE_SHOWN:])
        lines.append(f"    and {rest}")
    return lines


def render_measurement(measurement: Measurement) -> str:
    """The measurement for the console: each field, why, its ops, the burst, the block."""
    lines = [
        f"policy of {measurement.target}: measured in {measurement.seconds:.1f} s with "
        f"{measurement.requests} requests",
        f"history: {measurement.history}",
        "",
    ]
    for field in measurement.fields:
        status = ""
        if not field.measured:
            status = "   (not measured: default)"
        elif field.lower_bound:
            status = "   (at least)"
        lines.append(f"{field.name} = {_show(field.value)}{status}")
        lines.append(f"  {field.why}")
        lines += _evidence_lines(field.evidence)
    burst = measurement.burst
    if burst is not None:
        lines += [
            "",
            f"burst of {burst.size} concurrent refreshes of one token (decides no field):",
            f"  {burst.summary}",
            *_evidence_lines(burst.evidence),
        ]
    notes = [*measurement.notes, *filter(None, [retirement_note(measurement)])]
    lines += [f"note: {note}" for note in notes]
    lines += ["", policy_toml(measurement.policy()).rstrip("\n")]
    return "\n".join(lines)


@dataclass(frozen=True)
class _Flags:
    """What the flags say of the target and its login, for a measurement without a scenario."""

    client_id: str | None
    username: str | None
    password_env: str | None
    mint_command: str | None
    resource: str | None
    client: ClientSetup
    client_auth: str | None
    custom: CustomPaths | None = None
    use: UseShape | None = None

    def given(self) -> list[str]:
        """The flags that were passed, which a scenario would contradict."""
        client = self.client
        values = {
            "--client-id": self.client_id,
            "--username": self.username,
            "--password-env": self.password_env,
            "--mint-command": self.mint_command,
            "--resource": self.resource,
            "--use-method": self.use.method if self.use is not None else None,
            "--token-endpoint": client.token_endpoint,
            "--revocation-endpoint": client.revocation_endpoint,
            "--jwks-uri": client.jwks_uri,
            "--client-secret-env": client.client_secret_env,
            "--client-auth": self.client_auth,
            "--client-key-env": client.client_key_env,
            "--client-key-id": client.client_key_id,
            "--client-assertion-audience": client.client_assertion_audience,
            "--dpop": True if client.dpop else None,
            "--scope": client.scope,
            "--header": client.headers or None,
            "--header-env": client.headers_env or None,
            "--client-cert-env": client.client_cert_env,
            "--client-cert-key-env": client.client_cert_key_env,
        }
        given = [flag for flag, value in values.items() if value is not None]
        return given + (custom_flags(self.custom)[::2] if self.custom is not None else [])

    def login(self) -> Login:
        """How sessions log in: the mint command, else the password grant (exit 2 if wrong)."""
        refuse_mint_with_password(self.mint_command, self.username, self.password_env)
        if self.mint_command is not None:
            return mint_login(self.mint_command)
        return password_login(self.username or "user{n}", self.password_env or _PASSWORD_ENV)

    def variables(self) -> list[tuple[str, str]]:
        """The variables a login reads, with what each holds."""
        return needed_variables(self.login(), self.client)


def _scenario(
    path: Path | None, target: str | None, flags: _Flags, verify: Verify
) -> tuple[Scenario, str, list[str]]:
    """The scenario the measurement stands on, the target URL, and the flags that rebuild it."""
    if path is not None:
        given = flags.given()
        if given:
            raise fail(
                ExitCode.USAGE,
                f"{', '.join(given)}: the scenario {path} says how to log "
                "in; drop the flag(s) or the scenario",
            )
        loaded = load(path)
        url = target or loaded.target.base_url
        if url is None:
            raise fail(ExitCode.USAGE, f"{path}: no target: set target.base_url or pass --target")
        return loaded, url, []
    if target is None:
        raise fail(ExitCode.USAGE, "--target URL is needed when no scenario is given")
    login = flags.login()
    if flags.custom is not None:
        oauth_only(flags.client_id, flags.mint_command, flags.client_auth, flags.client)
        assert isinstance(login, PasswordLogin)  # --mint-command was refused just above
        require_variables(flags.variables(), "the measurement logs test users in")
        shape = probe(target, flags.custom, login, verify, sent_headers(flags.client))
        fields: dict[str, Any] = {
            "kind": shape.kind,
            **shape.target_fields(),
            **flags.client.shared_fields(),
        }
        described = [*custom_flags(flags.custom), *client_flags(flags.client)]
    else:
        client = checked_client_setup(target, flags.client, flags.client_auth)
        fields = client.fields()
        described = client_flags(client)
    call = use_call(flags.resource, flags.use)
    try:
        made = flag_scenario(
            target=target,
            client_id=flags.client_id,
            auth=login.auth(),
            resource=flags.resource,
            target_fields=fields,
            use=call,
        )
    except ScenarioError as exc:
        raise fail(ExitCode.USAGE, str(exc)) from None
    rebuilt = [
        *(["--client-id", flags.client_id] if flags.client_id else []),
        *login_flags(login),
        *(["--resource", flags.resource] if flags.resource else []),
        *(flags.use.flags() if flags.use is not None else []),
        *described,
    ]
    return made, target, rebuilt


def policy_command(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario whose target and auth to use (optional).")
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Base URL (default: the scenario's target.base_url).")
    ] = None,
    client_id: Annotated[
        str | None, typer.Option(help="OAuth client id (without a scenario).")
    ] = None,
    username: Annotated[
        str | None,
        typer.Option(help="Test user template, {n} the session number (without a scenario)."),
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option(help="Variable holding the test password (without a scenario)."),
    ] = None,
    resource: Annotated[
        str | None,
        typer.Option(help="Protected API path, to see if a refresh revokes the access token."),
    ] = None,
    use_method: UseMethod = None,
    use_json: UseJson = None,
    grace_max: Annotated[
        float, typer.Option(help="Longest grace window searched for, in seconds.")
    ] = 10.0,
    resolution: Annotated[
        float,
        typer.Option(help="Precision of the window: max(SECONDS, 10 % of the window)."),
    ] = 0.1,
    burst: Annotated[int, typer.Option(help="Size of the concurrent burst.")] = 8,
    max_seconds: Annotated[float, typer.Option(help="Bound on the whole measurement.")] = 110.0,
    max_requests: Annotated[int, typer.Option(help="Bound on the requests sent.")] = 400,
    write: Annotated[
        Path | None, typer.Option(help="Write the measured policy table (TOML) here.")
    ] = None,
    expect: Annotated[
        Path | None,
        typer.Option(help="Exit 1 when the measured policy differs from this scenario's."),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the measurement as JSON.")
    ] = None,
    history: Annotated[
        Path | None, typer.Option(help="Where to stream the JSONL history (default: runs/).")
    ] = None,
    ca_file: CaFile = None,
    insecure: Annotated[
        bool, typer.Option(help="Do not verify TLS certificates (test servers only).")
    ] = False,
    token_endpoint: TokenEndpoint = None,
    revocation_endpoint: RevocationEndpoint = None,
    jwks_uri: JwksUri = None,
    client_secret_env: ClientSecretEnv = None,
    client_auth: ClientAuthOption = None,
    client_key_env: ClientKeyEnv = None,
    client_key_id: ClientKeyId = None,
    client_assertion_audience: ClientAssertionAudience = None,
    client_cert_env: ClientCertEnv = None,
    client_cert_key_env: ClientCertKeyEnv = None,
    dpop: DpopOption = False,
    scope: Scope = None,
    mint_command: MintCommand = None,
    login_path: LoginPath = None,
    refresh_path: RefreshPath = None,
    revoke_path: RevokePath = None,
    login_json: LoginJson = None,
    refresh_json: RefreshJson = None,
    revoke_json: RevokeJson = None,
    refresh_cookie: RefreshCookie = None,
    csrf_preflight: CsrfPreflight = None,
    header: HeaderOption = None,
    header_env: HeaderEnvOption = None,
    log_level: LogLevel = "warning",
) -> None:
    """Measure the target's refresh-token policy black-box and print it as a policy table."""
    setup_logging(log_level)
    bounds = Bounds(
        grace_max=grace_max,
        resolution=resolution,
        burst=burst,
        max_seconds=max_seconds,
        max_requests=max_requests,
    )
    check_bounds(bounds)
    client = ClientSetup(
        token_endpoint=token_endpoint,
        revocation_endpoint=revocation_endpoint,
        jwks_uri=jwks_uri,
        client_secret_env=client_secret_env,
        client_key_env=client_key_env,
        client_key_id=client_key_id,
        client_assertion_audience=client_assertion_audience,
        dpop=dpop,
        scope=scope,
        client_cert_env=client_cert_env,
        client_cert_key_env=client_cert_key_env,
    )
    client = header_setup(client, header, header_env)
    custom = custom_paths(
        login_path,
        refresh_path,
        revoke_path,
        login_json,
        refresh_cookie,
        csrf_preflight,
        (refresh_json, revoke_json),
    )
    given = _Flags(
        client_id,
        username,
        password_env,
        mint_command,
        resource,
        client,
        client_auth,
        custom,
        use_shape(use_method, use_json),
    )
    # Only the flags' certificate: a scenario's is read by the measurement, which it configures.
    certificate = client_certificate(target, client) if scenario is None and target else None
    verify = verify_setting(ca_file, insecure, certificate)
    loaded, url, flags = _scenario(scenario, target, given, verify)
    if not _URL.match(url):
        raise fail(ExitCode.USAGE, f"target {url!r}: expected an http:// or https:// base URL")
    declared = load(expect).policy.model() if expect is not None else None
    if scenario is None:
        require_variables(given.variables(), "the measurement logs test users in")
    command = [
        "auth-stress",
        "policy",
        *([str(scenario)] if scenario else []),
        "--target",
        url,
        *flags,
    ]
    setup = ProbeSetup(
        scenario=loaded,
        target=url,
        history_path=history or default_history_path(),
        scenario_path=scenario,
        command=command,
        ca_file=ca_file,
        insecure=insecure,
    )
    measurement = run_measurement(setup, bounds)
    stdout.print(render_measurement(measurement), highlight=False, markup=False, soft_wrap=True)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_bytes(measurement_json(measurement))
    if measurement.end in INCONCLUSIVE_ENDS:
        code = ExitCode.INTERNAL if measurement.end == "crashed" else ExitCode.INCONCLUSIVE
        raise fail(code, f"{measurement.notes[-1]}; history: {measurement.history}")
    rotates = measurement.field("rotates")
    if not rotates.measured:
        raise fail(ExitCode.INCONCLUSIVE, f"nothing could be measured: {rotates.why}")
    if write is not None:
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text(policy_toml(measurement.policy(), measured_comments(measurement)))
        stderr.print(f"wrote {write}", highlight=False, soft_wrap=True)
    if declared is not None and expect is not None:
        if measurement.end != "completed":
            # A bound cut the measurement short: the fields it never reached cannot vouch.
            raise fail(
                ExitCode.INCONCLUSIVE,
                f"{measurement.notes[-1]}: not compared with {expect}; raise the bound",
            )
        _compare(measurement, declared, expect)


def _compare(measurement: Measurement, declared: Policy, expect: Path) -> None:
    """Exit 1 listing each drifted field, or 0 when the measured policy agrees."""
    drifts, skipped = drift(measurement, declared)
    for note in skipped:
        stdout.print(f"not compared: {note}", highlight=False, markup=False, soft_wrap=True)
    if drifts:
        stdout.print(
            f"policy drift: the target no longer does what {expect} declares "
            f"({declared.describe()}):",
            highlight=False,
            markup=False,
        )
        for d in drifts:
            stdout.print(f"  {d.describe()}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(ExitCode.FAIL)
    stdout.print(
        f"policy agrees with {expect} ({declared.describe()})",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    raise typer.Exit(ExitCode.PASS)
