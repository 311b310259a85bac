"""`Idempotency-Key`: a retried request replays its first answer and never repeats its effect."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rivergen.db import Database
from rivergen.idempotency import IdempotencyClaim, reset_claim, set_claim
from rivergen.settings import Settings
from tests.integration.api_client import Account, add_member, register
from tests.platform_app import create_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def app(migrated: Settings) -> AsyncIterator[FastAPI]:
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    application = create_app(migrated.model_copy(update={"gateway": gateway}))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


@pytest.fixture(scope="module")
async def owner(client: httpx.AsyncClient) -> Account:
    return await register(client, "owner")


def policy(name: str | None = None) -> dict[str, Any]:
    return {
        "name": name or f"p-{uuid.uuid4().hex[:8]}",
        "enabled": False,
        "rule": {"type": "access"},
    }


async def create(
    client: httpx.AsyncClient, who: Account, key: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        "/api/v1/policies", json=body, headers={**who.headers(), "Idempotency-Key": key}
    )


async def policies_named(db: Database, workspace: str, name: str) -> int:
    async with db.transaction(workspace) as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM policies WHERE name = $1", name)
    return count


async def test_a_retry_replays_the_first_answer_and_creates_nothing(
    client: httpx.AsyncClient, owner: Account, db: Database
) -> None:
    key, body = uuid.uuid4().hex, policy()
    first = await create(client, owner, key, body)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = await create(client, owner, key, body)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == "application/json"
    assert await policies_named(db, owner.workspace_id, body["name"]) == 1


async def test_the_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, owner: Account, db: Database
) -> None:
    key = uuid.uuid4().hex
    assert (await create(client, owner, key, policy())).status_code == 201
    other = policy()
    reused = await create(client, owner, key, other)
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert await policies_named(db, owner.workspace_id, other["name"]) == 0


async def test_concurrent_duplicates_take_effect_once(
    client: httpx.AsyncClient, owner: Account, db: Database
) -> None:
    key, body = uuid.uuid4().hex, policy()
    answers = await asyncio.gather(*(create(client, owner, key, body) for _ in range(4)))
    created = [a for a in answers if a.status_code == 201]
    busy = [a for a in answers if a.status_code == 409]
    assert len(created) + len(busy) == 4, [a.text for a in answers]
    assert created and all(a.json() == created[0].json() for a in created)
    assert all(a.json()["error"]["code"] == "idempotency_in_progress" for a in busy)
    assert await policies_named(db, owner.workspace_id, body["name"]) == 1


async def test_a_key_whose_request_is_running_is_409(
    client: httpx.AsyncClient, owner: Account, db: Database
) -> None:
    key, body = uuid.uuid4().hex, policy()
    assert (await create(client, owner, key, body)).status_code == 201
    # As the key's row looks while its first request has not answered yet.
    async with db.transaction(owner.workspace_id) as conn:
        await conn.execute("UPDATE idempotency_keys SET response_status = NULL WHERE key = $1", key)
    running = await create(client, owner, key, body)
    assert running.status_code == 409
    assert running.json()["error"]["code"] == "idempotency_in_progress"


async def test_keys_are_per_principal_and_expire(
    client: httpx.AsyncClient, owner: Account, db: Database
) -> None:
    admin = await add_member(client, owner, "admin")
    key = uuid.uuid4().hex
    mine, theirs = policy(), policy()
    assert (await create(client, owner, key, mine)).status_code == 201
    # Another person's same key is theirs: it runs.
    assert (await create(client, admin, key, theirs)).status_code == 201
    async with db.transaction(owner.workspace_id) as conn:
        await conn.execute(
            "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1",
            key,
        )
    # Expired, the key is new again: the request runs again.
    again = await create(client, owner, key, mine)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert await policies_named(db, owner.workspace_id, mine["name"]) == 2
    async with db.transaction(owner.workspace_id) as conn:
        expired = await conn.fetchval(
            "SELECT count(*) FROM idempotency_keys WHERE expires_at <= now()"
        )
    assert expired == 0  # taken over by the new request, and the others cleared


async def test_a_refused_request_records_no_key(
    client: httpx.AsyncClient, owner: Account, db: Database
) -> None:
    key = uuid.uuid4().hex
    bad = await create(client, owner, key, {"name": "x", "rule": {"type": "nonsense"}})
    assert bad.status_code == 422
    body = policy()
    # Nothing was recorded, so the key still serves a (corrected) request.
    assert (await create(client, owner, key, body)).status_code == 201
    assert await policies_named(db, owner.workspace_id, body["name"]) == 1


async def test_a_bad_key_is_400(client: httpx.AsyncClient, owner: Account) -> None:
    response = await create(client, owner, "x" * 300, policy())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"


# --- the key and the effect commit together (the database layer, without the API) ---------


@pytest.fixture
async def effects(db: Database) -> AsyncIterator[tuple[str, str]]:
    """(a workspace, a table of this test that rows of effects go to)."""
    table = f"idempotency_test_{uuid.uuid4().hex[:10]}"
    async with db.transaction() as conn:
        workspace = str(
            await conn.fetchval("INSERT INTO workspaces (name) VALUES ('t') RETURNING id")
        )
        await conn.execute(f"CREATE TABLE {table} (n int NOT NULL)")
    yield workspace, table
    async with db.transaction() as conn:
        await conn.execute(f"DROP TABLE {table}")
        await conn.execute("DELETE FROM workspaces WHERE id = $1::uuid", workspace)


async def state(db: Database, workspace: str, table: str, key: str) -> tuple[int, int | None]:
    """(effect rows, the key's stored status; -1: no key)."""
    async with db.transaction(workspace) as conn:
        rows = await conn.fetchval(f"SELECT count(*) FROM {table}")
        status = await conn.fetchval(
            "SELECT coalesce(response_status, 0) FROM idempotency_keys WHERE key = $1", key
        )
    return int(rows), -1 if status is None else int(status)


async def keyed_effect(db: Database, workspace: str, table: str, claim: IdempotencyClaim) -> None:
    token = set_claim(claim)
    try:
        async with db.transaction(workspace) as conn:
            await conn.execute(f"INSERT INTO {table} (n) VALUES (1)")
    finally:
        reset_claim(token)


async def test_an_answered_request_commits_effect_key_and_response_together(
    db: Database, effects: tuple[str, str]
) -> None:
    workspace, table = effects
    key = uuid.uuid4().hex
    claim = IdempotencyClaim(key, "f", 60, lambda: "user:test")
    await keyed_effect(db, workspace, table, claim)
    # Parked: nothing is visible before the response is stored.
    assert await state(db, workspace, table, key) == (0, -1)
    await claim.finish(201, "application/json", b"{}")
    assert await state(db, workspace, table, key) == (1, 201)


async def test_a_request_that_dies_before_answering_leaves_neither_effect_nor_key(
    db: Database, effects: tuple[str, str]
) -> None:
    workspace, table = effects
    key = uuid.uuid4().hex
    claim = IdempotencyClaim(key, "f", 60, lambda: "user:test")
    await keyed_effect(db, workspace, table, claim)
    await claim.abandon()  # what the middleware does when the request is cancelled or crashes
    assert await state(db, workspace, table, key) == (0, -1)
    # A 5xx answer also rolls back: the retry runs again.
    again = IdempotencyClaim(key, "f", 60, lambda: "user:test")
    await keyed_effect(db, workspace, table, again)
    await again.finish(500, None, b"")
    assert await state(db, workspace, table, key) == (0, -1)


async def test_a_later_transaction_of_the_request_sees_its_first_write(
    db: Database, effects: tuple[str, str]
) -> None:
    workspace, table = effects
    key = uuid.uuid4().hex
    claim = IdempotencyClaim(key, "f", 60, lambda: "user:test")
    token = set_claim(claim)
    try:
        async with db.transaction(workspace) as conn:
            await conn.execute(f"INSERT INTO {table} (n) VALUES (1)")
        async with db.transaction(workspace) as conn:
            seen = await conn.fetchval(f"SELECT count(*) FROM {table}")
            await conn.execute(f"INSERT INTO {table} (n) VALUES (2)")
    finally:
        reset_claim(token)
    assert seen == 1
    assert await state(db, workspace, table, key) == (2, 0)  # key committed, response not yet
    await claim.finish(200, "application/json", b"{}")
    assert await state(db, workspace, table, key) == (2, 200)
