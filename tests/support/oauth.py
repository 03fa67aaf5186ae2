"""Small httpx helpers for talking OAuth to the reference server in tests."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["login", "me", "refresh", "revoke"]


def login(client: httpx.Client, base: str, user: str = "user1") -> dict[str, Any]:
    """Password grant; asserts success and returns the token response."""
    resp = client.post(
        f"{base}/oauth/token",
        data={"grant_type": "password", "username": user, "password": "password"},
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def refresh(client: httpx.Client, base: str, token: str, **extra: str) -> httpx.Response:
    """Refresh-token grant as the public demo client."""
    data = {"grant_type": "refresh_token", "refresh_token": token, **extra}
    return client.post(f"{base}/oauth/token", data=data)


def revoke(client: httpx.Client, base: str, token: str) -> httpx.Response:
    """RFC 7009 revocation."""
    return client.post(f"{base}/oauth/revoke", data={"token": token})


def me(client: httpx.Client, base: str, access_token: str) -> httpx.Response:
    """Call the protected API."""
    return client.get(f"{base}/api/me", headers={"Authorization": f"Bearer {access_token}"})
