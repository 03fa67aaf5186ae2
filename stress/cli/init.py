"""The ``auth-stress init`` command: flags and prompts in, a starter scenario file out.

The work itself (discovery, rendering, validation) is :mod:`stress.starter`. Endpoints given
by flag (``--token-endpoint`` and the others) are used as given and discovery finds the rest; a
confidential client names its secret's variable (``--client-secret-env``); a server without the
password grant names a command that logs a session in (``--mint-command``). A custom JSON or
cookie API is named by its paths instead (``--login-path``, ``--refresh-path``) and learnt from
one login and one refresh (:mod:`stress.cli.custom_options`). An https target with a certificate
of its own takes ``--ca-file`` (or ``--insecure``), as ``run`` does. Unless ``--policy``
declares one or ``--no-measure`` is given, the policy is measured (``auth-stress policy``, which
logs test users in, so the password's and the secret's variables must be set) and written with
a comment saying so and when. Exit codes: 0 written, 2 usage error (bad flag value, file exists
without ``--force``, a variable unset), 3 target unreachable, without discovery metadata for an
endpoint not given, or not measurable.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, cast

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
    header_variables,
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
    custom_paths,
    oauth_only,
    probe,
)
from stress.cli.output import fail, stderr, stdout
from stress.cli.policy import check_bounds, measured_comments, retirement_note, run_measurement
from stress.cli.target_options import CaFile, Insecure
from stress.cli.use_options import UseJson, UseMethod, use_call, use_shape
from stress.client_certificate import ClientCertificate
from stress.custom_probe import CustomPaths, CustomShape
from stress.errors import ScenarioError, TargetError
from stress.http_tls import Verify, verify_setting
from stress.measure.prober import Bounds
from stress.measure.runner import ProbeSetup, default_history_path, flag_scenario
from stress.policy import PRESETS, Policy, PresetName, resolve_policy
from stress.run_record import INCONCLUSIVE_ENDS
from stress.scenario import ASSERTED_AUTHS, AUTH_METHODS, TLS_AUTHS
from stress.starter import (
    ClientSetup,
    Login,
    MintLogin,
    PasswordLogin,
    StarterAnswers,
    declared_comments,
    discover_endpoints,
    render_starter,
)
from stress.target import Endpoints
from stress.types import ExitCode
from stress.wire import run as run_async

__all__ = ["init_command"]

_POLICIES: tuple[str, ...] = PRESETS


def _ask(value: str | None, prompt: str, default: str, yes: bool) -> str:
    if value is not None:
        return value
    if yes:
        return default
    return cast(str, typer.prompt(prompt, default=default))


def _declared(policy: str | None, grace: float | None, yes: bool) -> Policy:
    """The policy a person declares, by flags or prompts."""
    chosen = _ask(policy, f"Policy ({', '.join(_POLICIES)})", "idempotent", yes)
    if chosen not in _POLICIES:
        raise fail(ExitCode.USAGE, f"policy {chosen!r}: expected {', '.join(_POLICIES)}")
    default_grace = "0" if chosen in ("strict", "none") else "5"
    window = _ask(None if grace is None else f"{grace:g}", "Grace seconds", default_grace, yes)
    try:
        seconds = float(window)
    except ValueError:
        raise fail(ExitCode.USAGE, f"grace {window!r}: expected a number of seconds") from None
    try:
        return resolve_policy(cast(PresetName, chosen), grace_seconds=seconds)
    except ValueError as exc:
        raise fail(ExitCode.USAGE, str(exc)) from None


def _measured(
    setup: ProbeSetup, needed: list[tuple[str, str]], bounds: Bounds
) -> tuple[Policy, tuple[str, ...]]:
    """The policy ``auth-stress policy`` measures with the starter's users, and its comments."""
    require_variables(
        needed,
        "init measures the policy by logging test users in",
        ", or pass --policy (declare it) or --no-measure",
    )
    stderr.print("measuring the policy (auth-stress policy) ...", highlight=False)
    measurement = run_measurement(setup, bounds)
    rotates = measurement.field("rotates")
    if measurement.end in INCONCLUSIVE_ENDS or not rotates.measured:
        why = measurement.notes[-1] if measurement.end in INCONCLUSIVE_ENDS else rotates.why
        raise fail(
            ExitCode.INCONCLUSIVE,
            f"the policy could not be measured: {why} (history: "
            f"{measurement.history}); pass --policy to declare it",
        )
    policy = measurement.policy()
    stderr.print(
        f"measured: {policy.describe()} (history: {measurement.history})",
        highlight=False,
        soft_wrap=True,
    )
    note = retirement_note(measurement)
    if note is not None:
        stderr.print(f"note: {note}", highlight=False, soft_wrap=True)
    return policy, tuple(measured_comments(measurement))


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
    policy: Annotated[
        str | None,
        typer.Option(help="Declare the policy instead of measuring it: " + ", ".join(_POLICIES)),
    ] = None,
    grace: Annotated[
        float | None, typer.Option(help="Grace window in seconds of a declared --policy.")
    ] = None,
    resource: Annotated[
        str | None, typer.Option(help="Protected API path for `use` steps (empty for none).")
    ] = None,
    use_method: UseMethod = None,
    use_json: UseJson = None,
    name: Annotated[str | None, typer.Option(help="Scenario name.")] = None,
    measure: Annotated[
        bool, typer.Option(help="Measure the policy (off: declare it by prompt or flags).")
    ] = True,
    grace_max: Annotated[
        float, typer.Option(help="Longest grace window the measurement searches for.")
    ] = 10.0,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask: defaults for whatever flags omit.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output file.")] = False,
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
    ca_file: CaFile = None,
    insecure: Insecure = False,
) -> None:
    """Discover a target, measure its policy, and write a starter scenario that `check` accepts."""
    if not re.match(r"^https?://[^/\s]+", target):
        raise fail(ExitCode.USAGE, f"--target {target!r}: expected an http:// or https:// base URL")
    if output.exists() and not force:
        raise fail(ExitCode.USAGE, f"{output} exists; pass --force to overwrite it")
    if policy is not None and policy not in _POLICIES:
        raise fail(ExitCode.USAGE, f"--policy {policy!r}: expected {', '.join(_POLICIES)}")
    if grace is not None and grace < 0:
        raise fail(ExitCode.USAGE, f"--grace {grace:g}: expected seconds >= 0")
    measuring = measure and policy is None
    if measuring and grace is not None:
        raise fail(
            ExitCode.USAGE,
            "--grace goes with --policy: without it init measures the "
            "window (or pass --no-measure to declare it)",
        )
    bounds = Bounds(grace_max=grace_max)
    if measuring:
        check_bounds(bounds)
    shape = use_shape(use_method, use_json)
    if yes:  # no prompt will ask for the path: the use flags need --resource now
        use_call(resource, shape)
    mint = None if mint_command is None else mint_login(mint_command)
    refuse_mint_with_password(mint_command, username, password_env)
    custom = custom_paths(
        login_path,
        refresh_path,
        revoke_path,
        login_json,
        refresh_cookie,
        csrf_preflight,
        (refresh_json, revoke_json),
    )
    client_setup = ClientSetup(
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
    client_setup = header_setup(client_setup, header, header_env)
    tls = _Tls(ca_file, insecure, client_certificate(target, client_setup))
    if custom is not None:
        oauth_only(client_id, mint_command, client_auth, client_setup)
        password = _password_login(username, password_env, yes)
        learnt = _learn_custom(target, custom, password, (output, tls), client_setup)
    else:
        setup = checked_client_setup(target, client_setup, client_auth)
        require_variables(header_variables(setup), "init sends the headers with every request")
        endpoints = _discovered(target, setup, tls.verify, mint is not None)
        client = _ask(client_id, "OAuth client id (empty for none)", "", yes)
        if not client and setup.client_auth in ASSERTED_AUTHS | TLS_AUTHS:
            raise fail(ExitCode.USAGE, f"--client-id: a {setup.client_auth} client needs its id")
        login = mint or _password_login(username, password_env, yes)
        learnt = _learn_oauth(target, endpoints, client, login, (setup, tls))
    login, setup, client = learnt.login, learnt.setup, learnt.client_id
    if measuring:
        api = _ask(resource, "Protected API path for `use` steps (empty for none)", "", yes)
        call = use_call(api, shape)
        try:
            scenario = flag_scenario(
                target=target,
                client_id=client or None,
                auth=login.auth(),
                resource=api or None,
                target_fields=learnt.fields,
                use=call,
            )
        except ScenarioError as exc:
            raise fail(ExitCode.USAGE, str(exc)) from None
        probe_setup = ProbeSetup(
            scenario=scenario,
            target=target,
            history_path=default_history_path(),
            command=learnt.command,
            ca_file=ca_file,
            insecure=insecure,
        )
        chosen, comments = _measured(probe_setup, needed_variables(login, setup), bounds)
    else:
        chosen = _declared(policy, grace, yes)
        comments = declared_comments(chosen)
        api = _ask(resource, "Protected API path for `use` steps (empty for none)", "", yes)
        call = use_call(api, shape)
    answers = StarterAnswers(
        target=target,
        name=name or output.stem,
        client_id=client or None,
        login=login.moved(Path.cwd(), output.parent) if isinstance(login, MintLogin) else login,
        policy=chosen,
        policy_comments=comments,
        resource=api or None,
        use=call,
        client=setup,
    )
    _write(output, answers, learnt.described, tls)


@dataclass(frozen=True)
class _Learnt:
    """What init learnt of the target, and how its sessions log in.

    ``fields`` are the ``[target]`` fields beyond ``base_url`` (for the measurement's scenario);
    ``command`` is the ``auth-stress policy`` command that measures the same target again.
    """

    described: Endpoints | CustomShape
    login: Login
    client_id: str
    setup: ClientSetup
    fields: dict[str, Any]
    command: list[str]


def _learn_oauth(
    target: str, endpoints: Endpoints, client: str, login: Login, how: tuple[ClientSetup, _Tls]
) -> _Learnt:
    setup, tls = how
    flags = [*(["--client-id", client] if client else []), *login_flags(login)]
    flags += [*client_flags(setup), *tls.flags()]
    command = ["auth-stress", "policy", "--target", target, *flags]
    return _Learnt(endpoints, login, client, setup, setup.fields(), command)


@dataclass(frozen=True)
class _Tls:
    """How an https target's certificate is checked (``--ca-file`` or ``--insecure``), and the
    client certificate init's own requests present (``--client-cert-env``)."""

    ca_file: str | None
    insecure: bool
    certificate: ClientCertificate | None = None

    @property
    def verify(self) -> Verify:
        """The TLS of init's own requests (discovery, the probe)."""
        return verify_setting(self.ca_file, self.insecure, self.certificate)

    def flags(self) -> list[str]:
        """The flags that say it again, for the commands init prints."""
        if self.insecure:
            return ["--insecure"]
        return ["--ca-file", self.ca_file] if self.ca_file else []


def _learn_custom(
    target: str,
    paths: CustomPaths,
    login: PasswordLogin,
    where: tuple[Path, _Tls],
    sent: ClientSetup,
) -> _Learnt:
    """The custom API as one login and one refresh show it, with the headers ``sent`` sends."""
    output, tls = where
    needed = needed_variables(login, sent)
    require_variables(needed, "init logs the first test user in to learn the API")
    shape = probe(target, paths, login, tls.verify, sent_headers(sent))
    fields = {"kind": shape.kind, **shape.target_fields(), **sent.shared_fields()}
    # The file init writes is the shortest way to measure the same API again.
    command = ["auth-stress", "policy", str(output), *tls.flags()]
    return _Learnt(shape, login, "", sent, fields, command)


def _discovered(target: str, setup: ClientSetup, verify: Verify, mint: bool) -> Endpoints:
    """The OAuth 2.0 server's endpoints: those given, discovery for the rest (exit 3 if not).

    A server whose metadata lists its grant types without the password grant gets a warning
    before any login is tried: most OpenID providers take none, and init's default login is it.
    """
    try:
        found = run_async(discover_endpoints, target, setup, verify)
    except TargetError as exc:
        raise fail(ExitCode.INCONCLUSIVE, str(exc)) from None
    endpoints = found.endpoints
    if not mint and found.grant_types is not None and "password" not in found.grant_types:
        stderr.print(
            f"warning: the server lists the grant types {', '.join(found.grant_types)}, not "
            "the password grant: log sessions in with --mint-command if logins fail",
            highlight=False,
            soft_wrap=True,
        )
    # A public client is not warned about: Keycloak lists every method but "none", and its
    # public clients work.
    method = AUTH_METHODS[setup.client_auth]
    listed = found.auth_methods
    if method != "none" and listed is not None and method not in listed:
        stderr.print(
            f"warning: the server lists the client authentication methods "
            f"{', '.join(listed)} for its token endpoint, not {method}: if logins "
            "fail with invalid_client, give the client's credentials (--client-secret-env, "
            "--client-key-env, --client-auth)",
            highlight=False,
            soft_wrap=True,
        )
    given = {
        "token": setup.token_endpoint,
        "revocation": setup.revocation_endpoint,
        "jwks": setup.jwks_uri,
    }
    resolved = {
        "token": endpoints.token,
        "revocation": endpoints.revocation,
        "jwks": endpoints.jwks,
    }
    # Say which came from the flags: "discovered" alone misleads when discovery found nothing.
    said = ", ".join(
        f"{name} {value or '-'}" + (" (given)" if given[name] else "")
        for name, value in resolved.items()
    )
    stderr.print(f"endpoints: {said}", highlight=False, soft_wrap=True)
    return endpoints


def _password_login(username: str | None, password_env: str | None, yes: bool) -> PasswordLogin:
    """The password grant's user template and password variable, by flags or prompts."""
    user = _ask(username, "Test user template ({n} = session number)", "user{n}", yes)
    variable = _ask(password_env, "Env var with the test password", "AUTH_STRESS_PASSWORD", yes)
    return password_login(user, variable)


def _write(
    output: Path, answers: StarterAnswers, described: Endpoints | CustomShape, tls: _Tls
) -> None:
    try:
        text, _ = render_starter(answers, described)
    except ScenarioError as exc:
        raise fail(ExitCode.USAGE, str(exc)) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    stdout.print(f"wrote {output}", highlight=False, soft_wrap=True)
    variables = dict.fromkeys(name for name, _ in needed_variables(answers.login, answers.client))
    exports = "".join(f"export {name}=...; " for name in variables)
    run = shlex.join(["auth-stress", "run", str(output), *tls.flags()])
    stdout.print(
        f"next: {exports}auth-stress check {output}; {run}",
        highlight=False,
        soft_wrap=True,
    )
