"""Postgres through PgBouncer in transaction pooling: what the platform relies on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from rivergen.db import Database
from rivergen.settings import PostgresSettings, Settings

# The bouncer's pool for the platform database is 4 server connections (scripts/pgbouncer);
# the client pools below are larger on purpose.
BOUNCER_POOL = 4


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def test_concurrent_transactions_on_a_larger_client_pool(db: Database) -> None:
    """20 concurrent transactions on 20 client connections share 4 server connections with
    parameterized queries and no prepared-statement errors."""
    settings = PostgresSettings(pool_min_size=20, pool_max_size=20)  # type: ignore[call-arg]
    database = Database(db._dsn, settings)
    await database.open()
    table = f"pool_probe_{uuid.uuid4().hex[:8]}"
    try:
        async with database.transaction() as conn:
            await conn.execute(f"CREATE TABLE {table} (n int PRIMARY KEY, note text)")

        async def one(n: int) -> int:
            async with database.transaction() as conn:
                await conn.execute(f"INSERT INTO {table} VALUES ($1, $2)", n, f"row {n}")
                await asyncio.sleep(0.01)  # hold the server connection across statements
                value = await conn.fetchval(f"SELECT n FROM {table} WHERE n = $1", n)
                assert await conn.fetchval("SELECT $1::text || $2::text", "a", str(n)) == f"a{n}"
                return int(value)

        results = await asyncio.gather(*(one(n) for n in range(20)))
        assert sorted(results) == list(range(20))
        async with database.transaction() as conn:
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 20
    finally:
        async with database.transaction() as conn:
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await database.close()


@pytest.fixture
async def one_server_connection(
    migrated: Settings,
) -> AsyncIterator[tuple[asyncpg.Connection, asyncpg.Connection]]:
    """Two plain clients of the bouncer's `rivergen_single` database, which has ONE server
    connection: whatever one client leaves on it, the other sees. (Plain connections, since
    asyncpg's own pool sends RESET ALL on release, which other clients do not.)"""
    assert migrated.postgres.dsn is not None
    dsn = with_database(migrated.postgres.dsn.get_secret_value(), "rivergen_single")
    first = await asyncpg.connect(dsn, statement_cache_size=0)
    second = await asyncpg.connect(dsn, statement_cache_size=0)
    yield first, second
    await first.execute("RESET app.workspace_id")
    await first.close()
    await second.close()


async def test_transaction_local_workspace_context_never_leaks(
    one_server_connection: tuple[asyncpg.Connection, asyncpg.Connection],
) -> None:
    first, second = one_server_connection
    for _ in range(50):
        workspace = str(uuid.uuid4())
        async with first.transaction():
            await first.execute("SELECT set_config('app.workspace_id', $1, true)", workspace)
            assert await first.fetchval("SELECT app_workspace_id()::text") == workspace
        async with second.transaction():
            assert await second.fetchval("SELECT app_workspace_id()") is None


async def test_session_level_set_leaks_through_the_bouncer(
    one_server_connection: tuple[asyncpg.Connection, asyncpg.Connection],
) -> None:
    """Why the platform never uses session state: a plain SET outlives the transaction and
    reaches the next client of the same server connection."""
    first, second = one_server_connection
    workspace = str(uuid.uuid4())
    await first.execute(f"SET app.workspace_id = '{workspace}'")
    leaked = await second.fetchval("SELECT current_setting('app.workspace_id', true)")
    assert leaked == workspace


async def test_database_transaction_sets_and_clears_the_context(db: Database) -> None:
    workspace = str(uuid.uuid4())
    async with db.transaction(workspace) as conn:
        assert await conn.fetchval("SELECT app_workspace_id()::text") == workspace
        assert await conn.fetchval("SELECT current_user") == "rivergen_app"
    async with db.transaction() as conn:
        assert await conn.fetchval("SELECT app_workspace_id()") is None
        assert await conn.fetchval("SELECT current_user") != "rivergen_app"


async def test_row_level_security_is_a_second_wall(db: Database) -> None:
    """A tenant transaction sees only its workspace's rows even when a query forgets to filter."""
    async with db.transaction() as conn:
        user = await conn.fetchval(
            "INSERT INTO users (email, display_name, password_hash) VALUES ($1, 'rls', 'x') "
            "RETURNING id",
            f"rls-{uuid.uuid4().hex}@example.com",
        )
        first, second = [
            await conn.fetchval("INSERT INTO workspaces (name) VALUES ($1) RETURNING id", name)
            for name in ("first", "second")
        ]
        for workspace in (first, second):
            await conn.execute(
                "INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, 'owner')",
                workspace,
                user,
            )
    async with db.transaction(str(first)) as conn:
        seen = await conn.fetch("SELECT workspace_id FROM memberships WHERE user_id = $1", user)
        assert [r["workspace_id"] for r in seen] == [first]
        updated = await conn.execute(
            "UPDATE memberships SET role = 'viewer' WHERE workspace_id = $1", second
        )
        assert updated == "UPDATE 0"


async def test_unreachable_postgres_is_a_dependency_error() -> None:
    from rivergen.errors import DependencyUnavailable

    settings = PostgresSettings(connect_timeout_s=1)  # type: ignore[call-arg]
    database = Database("postgresql://rivergen:rivergen@127.0.0.1:1/rivergen", settings)
    with pytest.raises(DependencyUnavailable, match="postgres"):
        await database.open()
