"""The control plane: endpoint discovery (RFC 8414 / OpenID Connect Discovery) and the JWKS.

These few requests happen once per run, before any burst, so they use httpx, whose API serves
well here and whose speed does not matter.

Besides the endpoints, a target's metadata may publish its refresh-token policy as a vendor
extension (RFC 8414 §2 allows extra members); the reference server does, as
``x_refresh_token_rotation``. It is read generically: a preset under ``policy`` (or ``kind``)
and any of the policy fields (``grace_seconds``, ``replay``, ``generations``,
``reuse_revokes``, ``refresh_revokes_access``), validated like a scenario's ``[policy]``. A
target that publishes nothing, or something this model cannot read (logged), publishes no
policy.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import msgspec

from stress.errors import TargetError
from stress.policy import Policy
from stress.scenario import PolicySpec, TargetSpec
from stress.target import Endpoints

__all__ = ["POLICY_EXTENSION", "Discovery", "discover", "fetch_jwks", "published_policy"]

logger = logging.getLogger(__name__)

WELL_KNOWN = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")

POLICY_EXTENSION = "x_refresh_token_rotation"
"""The metadata member a target may publish its refresh-token policy in."""

_POLICY_FIELDS = frozenset(PolicySpec.__struct_fields__) - {"relax"}


@dataclass(frozen=True)
class Discovery:
    """What discovery found: the endpoints, the policy the target publishes (or None), and the
    grant types and the token endpoint's client authentication methods its metadata lists
    (None when it lists none, or was not fetched)."""

    endpoints: Endpoints
    published: Policy | None = None
    grant_types: tuple[str, ...] | None = None
    auth_methods: tuple[str, ...] | None = None


def _needed(spec: TargetSpec, revocation_needed: bool) -> list[str]:
    """The endpoints a run cannot go without and the scenario does not give (oauth2 only)."""
    if spec.kind != "oauth2":
        return []
    missing = []
    if spec.token_endpoint is None and spec.refresh is None:
        missing.append("token_endpoint")
    if revocation_needed and spec.revocation_endpoint is None and spec.revoke is None:
        missing.append("revocation_endpoint")
    return missing


def _advice(missing: list[str]) -> str:
    names = " and ".join(f"target.{name}" for name in missing)
    return f"it was needed for {' and '.join(m.replace('_', ' ') for m in missing)}: set {names}"


async def discover(
    client: httpx.AsyncClient, spec: TargetSpec, base: str, *, revocation_needed: bool = False
) -> Discovery:
    """Resolve the endpoints: explicit settings win, discovery fills the rest for ``oauth2``.

    Discovery runs only for endpoints that are not given, and it must succeed only for those
    a run needs (the token endpoint, and the revocation endpoint when ``revocation_needed``);
    when it is needed only for the JWKS, its failure is a warning and access tokens go
    unverified. An error names exactly what was missing and how to give it.
    """
    metadata: dict[str, Any] = {}
    missing = _needed(spec, revocation_needed)
    wanted = spec.kind == "oauth2" and spec.discovery
    if wanted and (missing or spec.jwks_uri is None):
        try:
            metadata = await _metadata(client, base)
        except TargetError as exc:
            if missing and isinstance(exc, _Unreachable):
                raise  # no endpoint given would reach it either: no advice to give one
            if missing:
                raise TargetError(f"{exc}; {_advice(missing)}") from exc
            logger.warning(
                "discovery failed: access tokens will not be verified (set target.jwks_uri)",
                extra={"error": str(exc)},
            )
    elif missing:
        raise TargetError(
            f"{base}: discovery is off (target.discovery = false); {_advice(missing)}"
        )
    refresh_path = spec.refresh.path if spec.refresh is not None else None
    metadata = _with_mtls_aliases(metadata) if spec.client_cert_env is not None else metadata
    token = spec.token_endpoint or metadata.get("token_endpoint") or refresh_path
    if spec.kind == "oauth2" and token is None:
        raise TargetError(
            f"{base}: the discovery metadata names no token_endpoint; set target.token_endpoint"
        )
    endpoints = Endpoints(
        token=_relative(_as_str(token), base),
        revocation=_relative(
            _as_str(spec.revocation_endpoint or metadata.get("revocation_endpoint")), base
        ),
        jwks=_relative(_as_str(spec.jwks_uri or metadata.get("jwks_uri")), base),
        resource=spec.resource or (spec.use.path if spec.use is not None else None),
    )
    grants = _strings(metadata.get("grant_types_supported"))
    methods = _strings(metadata.get("token_endpoint_auth_methods_supported"))
    return Discovery(endpoints, published_policy(metadata), grants, methods)


def _with_mtls_aliases(metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` with the endpoints of its ``mtls_endpoint_aliases`` (RFC 8705 section 5)
    in place of the plain ones: a client presenting a certificate uses those, which may be on
    another host whose TLS asks for it (Keycloak and Okta publish them)."""
    aliases = metadata.get("mtls_endpoint_aliases")
    if not isinstance(aliases, dict):
        return metadata
    named = {k: v for k, v in aliases.items() if k.endswith("_endpoint") and _as_str(v)}
    return {**metadata, **named}


def _strings(listed: Any) -> tuple[str, ...] | None:
    """The strings of a metadata list, None when it is not one."""
    return tuple(g for g in listed if isinstance(g, str)) if isinstance(listed, list) else None


def published_policy(metadata: dict[str, Any]) -> Policy | None:
    """The policy a target's metadata publishes in :data:`POLICY_EXTENSION`, if it can be read.

    >>> published_policy({"x_refresh_token_rotation": {"policy": "idempotent",
    ...                   "grace_seconds": 2, "strategy": "atomic"}}).describe()
    'idempotent, grace 2s'
    """
    extension = metadata.get(POLICY_EXTENSION)
    if extension is None:
        return None
    if not isinstance(extension, dict):
        logger.warning(
            "ignoring the published policy: not an object",
            extra={"member": POLICY_EXTENSION, "found": type(extension).__name__},
        )
        return None
    fields = {("kind" if k == "policy" else k): v for k, v in extension.items()}
    fields = {k: v for k, v in fields.items() if k in _POLICY_FIELDS}
    try:
        return msgspec.convert(fields, type=PolicySpec, strict=True).model()
    except (msgspec.ValidationError, ValueError) as exc:
        logger.warning(
            "ignoring the published policy: this model cannot read it",
            extra={"member": POLICY_EXTENSION, "error": str(exc)},
        )
        return None


async def fetch_jwks(client: httpx.AsyncClient, base: str, jwks: str) -> dict[str, Any] | None:
    """Fetch the JSON Web Key Set; None (logged) when it cannot be had, so claims go unverified."""
    url = urljoin(base, jwks)
    try:
        response = await client.get(url)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        logger.warning(
            "jwks unavailable: %s",
            exc,
            extra={"url": url, "error_type": type(exc).__name__, "error": str(exc)},
        )
        return None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        logger.warning("jwks document has no 'keys' list", extra={"url": url})
        return None
    return document


def metadata_urls(base: str) -> list[str]:
    """Where an authorization server whose issuer is ``base`` publishes its metadata.

    Why: most issuers have a path (Keycloak's ``/realms/NAME``, Okta's ``/oauth2/default``, a
    tenant), and a well-known path joined to the origin alone would miss every one of them. For
    an issuer with a path: RFC 8414 section 3.1 puts the well-known segment between the host and
    the path, OpenID Connect Discovery section 4 appends it to the issuer, many servers also
    append the RFC 8414 one; and the origin's own documents last, for a base URL that is not the
    issuer but a page on its host.

    >>> metadata_urls("https://id.example/realms/test/")[:2]  # doctest: +NORMALIZE_WHITESPACE
    ['https://id.example/.well-known/oauth-authorization-server/realms/test',
     'https://id.example/realms/test/.well-known/openid-configuration']
    """
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    at_origin = [origin + known for known in WELL_KNOWN]
    if not path:
        return at_origin
    return [
        f"{origin}{WELL_KNOWN[0]}{path}",
        f"{origin}{path}{WELL_KNOWN[1]}",
        f"{origin}{path}{WELL_KNOWN[0]}",
        *at_origin,
    ]


class _Unreachable(TargetError):
    """No connection to the target carries a request: refused, or its TLS refused us (a server
    that wants a client certificate it did not get)."""


async def _metadata(client: httpx.AsyncClient, base: str) -> dict[str, Any]:
    last_status: str = ""
    for url in metadata_urls(base):
        try:
            response = await client.get(url)
        except httpx.ConnectError as exc:
            raise _Unreachable(f"{base}: target unreachable: {exc}") from exc
        except httpx.ReadError as exc:
            if isinstance(exc.__cause__, ssl.SSLError):
                raise _Unreachable(f"{base}: the target's TLS refused us: {exc}") from exc
            raise TargetError(f"{base}: discovery failed at {url}: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise TargetError(f"{base}: discovery failed at {url}: {exc!r}") from exc
        if response.status_code == 200:
            try:
                document = response.json()
            except ValueError as exc:
                raise TargetError(f"{url}: discovery document is not JSON") from exc
            if isinstance(document, dict):
                return document
        last_status = f"{url} answered {response.status_code}"
    raise TargetError(f"{base}: discovery found no metadata ({last_status})")


def _relative(endpoint: str | None, base: str) -> str | None:
    """Make an endpoint on the discovered origin relative, so each replica gets its own copy.

    Metadata names absolute URLs on the replica that answered discovery; a burst spread over
    several ``--target`` replicas must send each request to its own replica's endpoint.
    """
    if endpoint is None:
        return None
    parts, origin = urlsplit(endpoint), urlsplit(base)
    if parts.scheme == origin.scheme and parts.netloc.lower() == origin.netloc.lower():
        return urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return endpoint


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
