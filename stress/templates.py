"""Request templates: the shape of each kind of request a run sends, with placeholders where
tokens and secrets go.

A history carries them in its header so that the reproducer line of a finding (a curl command)
can be written from the history alone, offline, without the scenario or its secrets. Tokens,
the client secret, the test password, the session's cookies and the headers read from variables
become shell placeholders (``$REFRESH_TOKEN``, ``$CLIENT_SECRET``, ``$COOKIE_CONNECT_SID``, the
variable's own name, ...), and a credential header whose value would still hold a secret (a
Basic ``Authorization``, an API key) is replaced by a placeholder named after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from stress.run_record import RequestTemplate
from stress.scenario import TargetSpec
from stress.target import Endpoints, TargetProfile
from stress.wire import WireRequest

__all__ = ["SECRET_HEADERS", "request_templates"]

# Headers that carry credentials: a value without a placeholder is replaced by one.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})

# Markers that survive URL and JSON encoding, swapped for placeholders afterwards.
_MARKS = {
    "AUTHSTRESSTOKENMARK": "$TOKEN",
    "AUTHSTRESSACCESSMARK": "$ACCESS_TOKEN",
    "AUTHSTRESSCSRFMARK": "$CSRF_TOKEN",
    "AUTHSTRESSSECRETMARK": "$CLIENT_SECRET",
    "AUTHSTRESSASSERTIONMARK": "$CLIENT_ASSERTION",
    "AUTHSTRESSDPOPMARK": "$DPOP_PROOF",
    "AUTHSTRESSUSERMARK": "$USERNAME",
    "AUTHSTRESSPASSWORDMARK": "$PASSWORD",
}
_PLACEHOLDER = re.compile(r"\$[A-Z_][A-Z0-9_]*")


def _fill(text: str, token: str, marks: Mapping[str, str]) -> str:
    for mark, placeholder in marks.items():
        text = text.replace(mark, token if placeholder == "$TOKEN" else placeholder)
    return text


def _variable(name: str) -> str:
    """A shell variable named after ``name``: ``connect.sid`` is ``CONNECT_SID``."""
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def _template(request: WireRequest, token: str, marks: Mapping[str, str]) -> RequestTemplate:
    parts = urlsplit(request.url)
    path = _fill(parts.path + (f"?{parts.query}" if parts.query else ""), token, marks)
    headers = []
    for name, value in request.headers:
        if name == "content-length":
            continue
        filled = _fill(value, token, marks)
        if name in SECRET_HEADERS and not _PLACEHOLDER.search(filled):
            filled = "$" + _variable(name)
        headers.append((name, filled))
    body = _fill(request.body.decode(errors="replace"), token, marks) or None
    return RequestTemplate(method=request.method, path=path, headers=headers, body=body)


def request_templates(
    spec: TargetSpec, endpoints: Endpoints, base: str, needed: frozenset[str]
) -> dict[str, RequestTemplate]:
    """A template per op kind in ``needed``; raises ``ScenarioError`` for one the target lacks.

    Building every request a run will send before it starts is what turns "no revocation
    endpoint" into a usage error instead of a crash halfway through the run.
    """
    # A header read from a variable is its variable's placeholder: a key never lands in a file.
    keys = {var: f"AUTHSTRESSHEADER{i}MARK" for i, var in enumerate(spec.headers_env.values())}
    profile = TargetProfile(
        spec,
        endpoints,
        client_secret="AUTHSTRESSSECRETMARK",
        header_values=keys,
        client_assertion="AUTHSTRESSASSERTIONMARK",
        dpop_proof="AUTHSTRESSDPOPMARK",
    )
    mark, access, csrf = "AUTHSTRESSTOKENMARK", "AUTHSTRESSACCESSMARK", "AUTHSTRESSCSRFMARK"
    jar = {name: f"AUTHSTRESSCOOKIE{i}MARK" for i, name in enumerate(spec.session_cookies)}
    marks = {
        **{jar[name]: "$COOKIE_" + _variable(name) for name in jar},
        **{key: "$" + variable for variable, key in keys.items()},
        **_MARKS,
    }
    user, password = "AUTHSTRESSUSERMARK", "AUTHSTRESSPASSWORDMARK"
    builders: dict[str, tuple[Callable[[], WireRequest], str]] = {
        "login": (lambda: profile.login(base, user, password, 0, csrf, jar), ""),
        "refresh": (lambda: profile.refresh(base, mark, access, csrf, jar), "$REFRESH_TOKEN"),
        "probe": (lambda: profile.refresh(base, mark, access, csrf, jar), "$REFRESH_TOKEN"),
        "use": (lambda: profile.use(base, mark, jar), "$ACCESS_TOKEN"),
        "revoke": (lambda: profile.revoke(base, mark, access, csrf, jar), "$REFRESH_TOKEN"),
    }
    return {
        kind: _template(build(), token, marks)
        for kind, (build, token) in builders.items()
        if kind in needed
    }
