"""The refresh path's fast pieces agree with what they replace and fail the same way.

``resp.RespClient`` against a real Redis: replies reach the right caller under concurrency and
cancellation, a lost script is sent again, a timeout and a refused connection are ``OSError``
(503 upstream) and the client reconnects. The RESP parser on replies cut at every byte. The
form fast path against ``parse_qsl``; the hand-built JWS against PyJWT.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

import jwt
import pytest

from reference_server.oauth import _parse_form
from reference_server.resp import RespClient, RespError, Script, _Incomplete, _parse
from reference_server.tokens import ACCESS_TOKEN_ALG, SigningKey, generate_private_key_pem


def _run(
    redis_url: str, scenario: Callable[[RespClient], Awaitable[None]], timeout: float = 2.0
) -> None:
    async def main() -> None:
        client = RespClient(redis_url, timeout)
        try:
            await asyncio.wait_for(scenario(client), 10)
        finally:
            await client.close()

    asyncio.run(main())


def test_reply_types_and_error_reply(redis_url: str) -> None:
    async def scenario(client: RespClient) -> None:
        await client.execute("DEL", "{t}:h", "{t}:s")
        assert await client.execute("HSET", "{t}:h", "a", "1", "b", "é") == 2
        replies = await client.pipeline(
            [["HGETALL", "{t}:h"], ["GET", "{t}:missing"], ["SET", "{t}:s", "v"], ["PING"]]
        )
        assert replies == [["a", "1", "b", "é"], None, "OK", "PONG"]
        with pytest.raises(RespError, match="WRONGTYPE"):
            await client.execute("GET", "{t}:h")
        assert await client.execute("GET", "{t}:s") == "v"  # the connection survives an error

    _run(redis_url, scenario)


def test_concurrent_callers_get_their_own_replies(redis_url: str) -> None:
    async def scenario(client: RespClient) -> None:
        async def one(i: int) -> None:
            key = f"{{t}}:c{i}"
            replies = await client.pipeline([["SET", key, str(i)], ["GET", key], ["DEL", key]])
            assert replies == ["OK", str(i), 1]

        await asyncio.gather(*(one(i) for i in range(200)))

    _run(redis_url, scenario)


def test_cancelled_caller_does_not_shift_replies(redis_url: str) -> None:
    async def scenario(client: RespClient) -> None:
        await client.execute("SET", "{t}:b", "mine")
        blocked = asyncio.ensure_future(client.execute("BLPOP", "{t}:empty", "0.3"))
        after = asyncio.ensure_future(client.execute("GET", "{t}:b"))
        await asyncio.sleep(0.05)
        blocked.cancel()
        assert await after == "mine"
        assert await client.execute("GET", "{t}:b") == "mine"

    _run(redis_url, scenario)


def test_lost_script_is_sent_again(redis_url: str) -> None:
    script = Script("return {KEYS[1], ARGV[1]}")

    async def scenario(client: RespClient) -> None:
        await client.execute("SCRIPT", "FLUSH")
        assert await client.evalsha(script, ["{t}:k"], ["x"]) == ["{t}:k", "x"]
        assert await client.evalsha(script, ["{t}:k"], [7]) == ["{t}:k", "7"]

    _run(redis_url, scenario)


def test_timeout_is_oserror_and_client_reconnects(redis_url: str) -> None:
    async def scenario(client: RespClient) -> None:
        with pytest.raises(TimeoutError):
            await client.execute("BLPOP", "{t}:never", "1")
        assert await client.execute("PING") == "PONG"

    _run(redis_url, scenario, timeout=0.2)


def test_refused_connection_is_oserror() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario(client: RespClient) -> None:
        with pytest.raises(ConnectionRefusedError):  # an OSError: the store answers 503
            await client.execute("PING")

    _run(f"redis://127.0.0.1:{port}/0", scenario)


def test_parser_waits_for_whole_replies() -> None:
    wire = b"*3\r\n$5\r\nhello\r\n:42\r\n*2\r\n$-1\r\n+OK\r\n-ERR bad\r\n"
    first_end = wire.index(b"-ERR")
    for cut in range(1, len(wire) + 1):
        buf = bytearray(wire[:cut])
        if cut < first_end:
            with pytest.raises(_Incomplete):
                _parse(buf, 0)
            continue
        value, pos = _parse(buf, 0)
        assert value == ["hello", 42, [None, "OK"]]
        assert pos == first_end
    error, _ = _parse(bytearray(wire), first_end)
    assert isinstance(error, RespError)
    assert str(error) == "ERR bad"


FORMS = ["", "a=1", "a=1&b=2", "a=&b=", "a", "a=1&&b=2", "a=1&", "&", "=", "=x", "a==b",
         "a=1&b=%41", "a=+1", "x=1&" * 31 + "y=2", "x=1&" * 32 + "y=2", "é=ü"]  # fmt: skip


@pytest.mark.parametrize("text", FORMS)
def test_form_fast_path_matches_parse_qsl(text: str) -> None:
    def outcome(parse: Callable[[str], list[tuple[str, str]]]) -> object:
        try:
            return parse(text)
        except ValueError:
            return ValueError

    expected = outcome(
        lambda t: parse_qsl(t, keep_blank_values=True, strict_parsing=True, max_num_fields=32)
    )
    assert outcome(_parse_form) == expected


def test_hand_built_jws_is_what_pyjwt_verifies() -> None:
    key = SigningKey.from_pem(generate_private_key_pem())
    issued = key.issue(
        subject="user1",
        family_id="f" * 22,
        scope="api",
        client_id="demo-client",
        ttl=60,
        issuer="iss",
        audience="aud",
    )
    header = jwt.get_unverified_header(issued.token)
    assert header == {"alg": ACCESS_TOKEN_ALG, "kid": key.kid, "typ": "JWT"}
    assert key.verify(issued.token, issuer="iss", audience="aud") == issued.claims
    public = jwt.PyJWK(key.jwks()["keys"][0])
    claims = jwt.decode(issued.token, public, algorithms=["EdDSA"], audience="aud")
    assert claims == issued.claims
    tampered = issued.token[:-4] + ("AAAA" if not issued.token.endswith("AAAA") else "BBBB")
    with pytest.raises(jwt.InvalidSignatureError):
        key.verify(tampered, issuer="iss", audience="aud")
    assert json.loads(jwt.utils.base64url_decode(issued.token.split(".")[1])) == issued.claims
