"""Tenant context under transaction pooling with ONE server connection.

A PgBouncer of this test's own (``pool_mode=transaction``, ``default_pool_size=1``) stands
between the API and the shared Postgres, so every transaction of two workspaces runs on the
same server connection, one after the other. 1,000 requests of the two interleave (creating,
listing, reading their own and the other's policies; some with an
``Idempotency-Key``): no response ever holds a row of the
other workspace, and the bouncer never opened a second server connection.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from rivergen.api import accounts, health, policies
from rivergen.settings import Settings
from tests.chaos.pgbouncer import pgbouncer, show
from tests.integration.api_client import Account, register
from tests.platform_app import create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PORT = 23640
REQUESTS = 1000
CONCURRENCY = 8


@pytest.fixture(scope="module")
def single_connection(migrated: Settings) -> Iterator[str]:
    assert migrated.postgres.migrate_dsn is not None
    with pgbouncer(
        migrated.postgres.migrate_dsn.get_secret_value(),
        PORT,
        default_pool_size=1,
        max_db_connections=1,
        min_pool_size=0,
    ) as dsn:
        yield dsn


@pytest.fixture(scope="module")
async def client(migrated: Settings, single_connection: str) -> AsyncIterator[httpx.AsyncClient]:
    postgres = migrated.postgres.model_copy(update={"dsn": single_connection})
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    app: FastAPI = create_app(
        migrated.model_copy(update={"postgres": postgres, "gateway": gateway}),
        routers=(health.router, accounts.router, policies.router),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http


async def server_connections(pooled_dsn: str) -> int:
    return len(await show(pooled_dsn, "SERVERS"))


class Interleaving:
    """Two workspaces' requests, and every row either saw that was not its own."""

    def __init__(self, client: httpx.AsyncClient, owners: list[Account]) -> None:
        self.client, self.owners = client, owners
        self.tags = {o.workspace_id: f"w{n}-{uuid.uuid4().hex[:6]}" for n, o in enumerate(owners)}
        self.mine: dict[str, set[str]] = {o.workspace_id: set() for o in owners}
        self.foreign_seen: list[str] = []

    async def one(self, n: int) -> None:
        who, other = self.owners[n % 2], self.owners[(n + 1) % 2]
        step = (n // 2) % 4
        if step == 0 or not self.mine[who.workspace_id]:
            await self.create(n, who)
        elif step == 1:
            await self.list_own(who)
        elif step == 2:
            await self.read_own(who)
        elif self.mine[other.workspace_id]:
            await self.peek(who, other)

    async def create(self, n: int, who: Account) -> None:
        ws = who.workspace_id
        body = {"name": f"{self.tags[ws]}-{n}", "enabled": False, "rule": {"type": "access"}}
        # A third without a key; the keyed ones' transactions wait for their response on the
        # one server connection, and must neither block the others nor leak into them.
        headers = {**who.headers(), **({"Idempotency-Key": f"k{n}"} if n % 3 else {})}
        made = await self.client.post("/api/v1/policies", json=body, headers=headers)
        assert made.status_code == 201, made.text
        assert made.json()["workspace_id"] == ws
        self.mine[ws].add(made.json()["id"])

    async def list_own(self, who: Account) -> None:
        ws = who.workspace_id
        page = await self.client.get("/api/v1/policies?limit=500", headers=who.headers())
        assert page.status_code == 200, page.text
        for item in page.json()["items"]:
            if item["workspace_id"] != ws or not item["name"].startswith(self.tags[ws]):
                self.foreign_seen.append(item["id"])

    async def read_own(self, who: Account) -> None:
        policy = next(iter(self.mine[who.workspace_id]))
        own = await self.client.get(f"/api/v1/policies/{policy}", headers=who.headers())
        assert own.status_code == 200 and own.json()["workspace_id"] == who.workspace_id

    async def peek(self, who: Account, other: Account) -> None:
        theirs = next(iter(self.mine[other.workspace_id]))
        peek = await self.client.get(f"/api/v1/policies/{theirs}", headers=who.headers())
        if peek.status_code != 404:
            self.foreign_seen.append(theirs)


@pytest.mark.timeout(60, func_only=True)
async def test_two_workspaces_on_one_server_connection_never_see_each_other(
    client: httpx.AsyncClient, single_connection: str
) -> None:
    started = time.monotonic()
    run = Interleaving(client, [await register(client, "left"), await register(client, "right")])
    most_servers = 0
    counter = itertools.count()

    async def worker() -> None:
        nonlocal most_servers
        while (n := next(counter)) < REQUESTS:
            await run.one(n)
            if n % 100 == 0:
                most_servers = max(most_servers, await server_connections(single_connection))

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.monotonic() - started
    assert run.foreign_seen == []
    assert all(len(ids) >= REQUESTS // 8 - 1 for ids in run.mine.values())
    assert most_servers == 1
    print(
        f"{REQUESTS} interleaved requests of 2 workspaces on 1 server connection, "
        f"no foreign row, in {elapsed:.1f} s"
    )
