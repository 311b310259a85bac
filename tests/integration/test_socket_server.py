"""One Socket.io replica on uvicorn against the real services (and a Redis Socket server of the
test's own, which it restarts): who may connect, which rooms the server chooses, what a
write-only emitter reaches, and that a socket outlives neither its session nor its API key."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import socketio
import uvicorn

from rivergen.accounts.credentials import TokenSigner
from rivergen.notifications.rooms import workspace_room
from rivergen.realtime import SocketApp, create_socket_app
from rivergen.settings import RedisSettings, Settings, SocketSettings
from tests.integration.api_client import Account, join, register
from tests.integration.redis_server import RedisServer
from tests.integration.socket_clients import connect, refusal_code
from tests.platform_app import create_app

REDIS_PORT = 29511
PORT = 29501
BASE = f"http://127.0.0.1:{PORT}"


@dataclass
class Stack:
    settings: Settings
    redis: RedisServer
    gateway: httpx.AsyncClient
    emitter: socketio.AsyncRedisManager
    app: SocketApp


@pytest.fixture(scope="module")
async def stack(migrated: Settings) -> AsyncIterator[Stack]:
    redis = RedisServer(REDIS_PORT)
    redis.start()
    settings = migrated.model_copy(
        update={
            "redis_socket": RedisSettings(url=redis.url),  # type: ignore[arg-type]
            "sockets": SocketSettings(  # type: ignore[call-arg]
                recheck_interval_s=0.5, listener_check_interval_s=0.25, listener_stale_s=1.0
            ),
        }
    )
    app = create_socket_app(settings, "replica-a")
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=PORT, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    gateway = create_app(migrated)
    emitter = socketio.AsyncRedisManager(redis.url, write_only=True)
    try:
        while not server.started:
            assert not serving.done(), "the socket server did not start"
            await asyncio.sleep(0.05)
        async with gateway.router.lifespan_context(gateway):
            address = f"2001:db8:{secrets.token_hex(2)}::1"
            transport = httpx.ASGITransport(app=gateway, client=(address, 4242))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
                yield Stack(settings, redis, http, emitter, app)
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 15)
        redis.stop()


async def test_a_token_joins_its_rooms_and_gets_its_workspace_events_only(stack: Stack) -> None:
    alice, bob = await register(stack.gateway, "alice"), await register(stack.gateway, "bob")
    a, b = await connect(BASE, alice.access_token), await connect(BASE, bob.access_token)
    try:
        (welcome,) = await a.wait_for("welcome")
        assert welcome["instance_id"] == "replica-a"
        assert workspace_room(alice.workspace_id) in welcome["rooms"]
        assert workspace_room(bob.workspace_id) not in welcome["rooms"]
        await b.wait_for("welcome")
        for step in range(5):
            await stack.emitter.emit(
                "job.progress", {"step": step}, room=workspace_room(alice.workspace_id)
            )
        assert [e["step"] for e in await a.wait_for("job.progress", 5)] == list(range(5))
        await asyncio.sleep(0.3)
        assert b.of("job.progress") == []
    finally:
        await a.close()
        await b.close()


async def test_refusals_carry_a_code(stack: Stack) -> None:
    alice = await register(stack.gateway, "carol")
    assert await refusal_code(BASE, None) == "credentials_required"
    assert await refusal_code(BASE, "not a token") == "invalid_token"
    signer = TokenSigner.from_settings(stack.settings.auth)
    claims = signer.verify(alice.access_token)
    expired = signer.issue(
        claims.sub, claims.ws, claims.sid, now=datetime.now(UTC) - timedelta(hours=3)
    )
    assert await refusal_code(BASE, expired) == "token_expired"


async def test_join_is_refused_for_another_workspace(stack: Stack) -> None:
    alice, bob = await register(stack.gateway, "dave"), await register(stack.gateway, "erin")
    a = await connect(BASE, alice.access_token)
    try:
        refused = await a.client.call("join", {"workspace_id": bob.workspace_id}, timeout=10)
        assert refused == {
            "ok": False,
            "error": {"code": "workspace_not_found", "message": "no such workspace"},
        }
        garbage = await a.client.call("join", {"workspace_id": "nope"}, timeout=10)
        assert garbage["error"]["code"] == "workspace_not_found"
        own = await a.client.call("join", {"workspace_id": alice.workspace_id}, timeout=10)
        assert own == {"ok": True, "room": workspace_room(alice.workspace_id)}
        await stack.emitter.emit("job.progress", {"n": 1}, room=workspace_room(bob.workspace_id))
        await asyncio.sleep(0.3)
        assert a.of("job.progress") == []
    finally:
        await a.close()


async def wait_disconnected(client: socketio.AsyncClient, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while client.connected:
        assert time.monotonic() < deadline, "the socket was not dropped"
        await asyncio.sleep(0.05)


async def test_a_revoked_session_or_api_key_drops_the_socket(stack: Stack) -> None:
    alice: Account = await register(stack.gateway, "frank")
    key = (
        await stack.gateway.post(
            "/api/v1/api-keys", json={"name": "live", "role": "viewer"}, headers=alice.headers()
        )
    ).json()
    by_token = await connect(BASE, alice.access_token)
    by_key = await connect(BASE, key["key"])
    (welcome,) = await by_key.wait_for("welcome")
    assert welcome["rooms"] == [workspace_room(alice.workspace_id)]
    await by_token.wait_for("welcome")

    revoked = await stack.gateway.delete(f"/api/v1/api-keys/{key['id']}", headers=alice.headers())
    assert revoked.status_code == 204, revoked.text
    assert (await by_key.wait_for("revoked"))[0]["code"] == "invalid_api_key"
    await wait_disconnected(by_key.client)
    assert by_token.client.connected  # another credential of the same workspace

    logout = await stack.gateway.post("/api/v1/auth/logout", headers=alice.headers())
    assert logout.status_code == 204
    (why,) = await by_token.wait_for("revoked")
    assert why["code"] == "session_expired"
    await wait_disconnected(by_token.client)


async def test_the_listener_subscribes_again_after_redis_restarts(stack: Stack) -> None:
    alice = await register(stack.gateway, "gina")
    a = await connect(BASE, alice.access_token)
    try:
        await a.wait_for("welcome")
        async with httpx.AsyncClient(base_url=BASE) as http:
            ready = (await http.get("/socket.io/readyz")).json()
            assert ready["ready"] and ready["listener"]["subscribed"]
            stack.redis.kill()
            await asyncio.sleep(1.5)
            assert (await http.get("/socket.io/readyz")).status_code == 503
            stack.redis.start()
            restarted = time.monotonic()
            while (await http.get("/socket.io/readyz")).status_code != 200:
                assert time.monotonic() - restarted < 10, "not subscribed again within 10 s"
                await asyncio.sleep(0.1)
        room = workspace_room(alice.workspace_id)
        await stack.emitter.emit("job.progress", {"after": "restart"}, room=room)
        assert (await a.wait_for("job.progress"))[-1] == {"after": "restart"}
    finally:
        await a.close()


async def test_a_listener_that_died_silently_is_started_again(stack: Stack) -> None:
    alice = await register(stack.gateway, "hank")
    a = await connect(BASE, alice.access_token)
    try:
        await a.wait_for("welcome")
        manager = stack.app.cluster.manager
        manager.thread.cancel()  # nothing fails, nothing is logged: events just stop
        forced = stack.app.cluster.readiness().listener
        assert forced is not None
        async with httpx.AsyncClient(base_url=BASE) as http:
            start = time.monotonic()
            while True:
                state = (await http.get("/socket.io/readyz")).json()["listener"]
                if (
                    state["subscribed"]
                    and state["forced_resubscribes"] > forced.forced_resubscribes
                ):
                    break
                assert time.monotonic() - start < 10, state
                await asyncio.sleep(0.1)
        await stack.emitter.emit(
            "job.progress", {"after": "revival"}, room=workspace_room(alice.workspace_id)
        )
        assert (await a.wait_for("job.progress"))[-1] == {"after": "revival"}
    finally:
        await a.close()


async def test_sockets_follow_the_callers_memberships(stack: Stack) -> None:
    owner, guest = await register(stack.gateway, "ivan"), await register(stack.gateway, "judy")
    g = await connect(BASE, guest.access_token)
    try:
        await g.wait_for("welcome")
        await join(stack.gateway, owner, guest, "viewer")
        # Within a re-check (0.5 s here) the server puts the socket in the new room itself.
        room = workspace_room(owner.workspace_id)
        deadline = time.monotonic() + 5
        while not g.of("job.progress"):
            assert time.monotonic() < deadline, "the socket did not join the new workspace"
            await stack.emitter.emit("job.progress", {"to": "new member"}, room=room)
            await asyncio.sleep(0.2)
    finally:
        await g.close()
