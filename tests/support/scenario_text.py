"""The text of a scenario against one of the OAuth behaviour targets (tests/targets).

Why this module exists: the tests that drive such a target in-process or through the CLI all
need the same login (``demo-client``, users ``user{n}``, password ``password``) and differ only
in their policy, their run bounds and their steps.
"""

from __future__ import annotations

import tomli_w

__all__ = ["behaviour_scenario", "steps"]

_CLIENT_ID = 'client_id = "demo-client"\n'
_HEAD = """\
name = "{name}"
[target]
kind = "oauth2"
base_url = "{url}"
client_id = "demo-client"
{resource}
[auth]
username = "user{{n}}"
password = "password"
[policy]
{policy}
[run]
{run}
"""


def behaviour_scenario(
    name: str,
    url: str,
    *,
    policy: str,
    run: str,
    steps: str,
    resource: bool = False,
    client: str = "",
) -> str:
    """A scenario named ``name`` against the target at ``url``; ``policy``, ``run`` and
    ``steps`` are TOML (the ``[policy]`` and ``[run]`` tables' lines, the ``[[steps]]``), and
    ``client`` the ``[target]`` lines that say more of the client (``dpop = true``)."""
    head = _HEAD.format(
        name=name, url=url, resource='resource = "/api/me"' if resource else "", policy=policy,
        run=run,
    )  # fmt: skip
    if client:
        head = head.replace(_CLIENT_ID, _CLIENT_ID + client.rstrip("\n") + "\n", 1)
    return head + steps


def steps(*tables: dict[str, object]) -> str:
    """The ``[[steps]]`` tables of ``tables``, in order: ``steps({"op": "login"}, ...)``."""
    return "".join(f"[[steps]]\n{tomli_w.dumps(table)}" for table in tables)
