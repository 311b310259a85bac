"""The client's address as the login throttle sees it: the peer itself, or the first hop of
X-Forwarded-For outside the trusted proxies; failures from one address do not block another,
and a forged header from an untrusted peer changes nothing."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from rivergen.settings import Settings
from tests.integration.api_client import Account, register
from tests.platform_app import create_app

PROXY = "10.0.0.1"  # inside the trusted network below


@pytest.fixture
async def app(migrated: Settings) -> AsyncIterator[FastAPI]:
    gateway = migrated.gateway.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    application = create_app(migrated.model_copy(update={"gateway": gateway}))
    async with application.router.lifespan_context(application):
        yield application


Peer = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def peer(app: FastAPI) -> AsyncIterator[Peer]:
    """A client connecting from a given address."""
    opened: list[httpx.AsyncClient] = []

    def from_address(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 4242))
        client = httpx.AsyncClient(transport=transport, base_url="http://gateway")
        opened.append(client)
        return client

    yield from_address
    for client in opened:
        await client.aclose()


def unique_loopback() -> str:
    return f"127.{secrets.randbelow(200) + 10}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"


async def login(
    client: httpx.AsyncClient, who: Account, password: str | None = None, xff: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": xff} if xff else {}
    return await client.post(
        "/api/v1/auth/login",
        json={"email": who.email, "password": password or who.password},
        headers=headers,
    )


async def test_failures_from_one_address_do_not_block_another(peer: Peer) -> None:
    one, two = peer(unique_loopback()), peer(unique_loopback())
    ada, bob = await register(one, "ada"), await register(one, "bob")
    for _ in range(5):
        assert (await login(one, ada, "wrong password!")).status_code == 401
    refused = await login(one, ada)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "login_throttled"
    # Ada from another address, and Bob from the first, sign in.
    assert (await login(two, ada)).status_code == 200
    assert (await login(one, bob)).status_code == 200


async def test_a_forged_header_from_an_untrusted_peer_changes_nothing(peer: Peer) -> None:
    attacker = peer(unique_loopback())
    eve = await register(attacker, "eve")
    for n in range(5):
        wrong = await login(attacker, eve, "wrong password!", xff=f"9.9.9.{n}")
        assert wrong.status_code == 401
    # A fresh forged address does not start a fresh count: the peer is the client.
    refused = await login(attacker, eve, xff="8.8.8.8")
    assert refused.status_code == 429, refused.text


async def test_a_trusted_proxys_header_names_the_client(peer: Peer) -> None:
    proxy = peer(PROXY)
    ivy = await register(proxy, "ivy")
    for _ in range(5):
        wrong = await login(proxy, ivy, "wrong password!", xff="203.0.113.5")
        assert wrong.status_code == 401
    # The same client behind the proxy waits, even when it sends a header of its own (the
    # proxy appends the address it saw: the first hop outside the trusted network is read).
    assert (await login(proxy, ivy, xff="203.0.113.5")).status_code == 429
    assert (await login(proxy, ivy, xff="9.9.9.9, 203.0.113.5")).status_code == 429
    # Another client behind the same proxy is not slowed by the first one's failures.
    assert (await login(proxy, ivy, xff="203.0.113.6")).status_code == 200
