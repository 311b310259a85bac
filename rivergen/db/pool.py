"""An asyncpg pool that works behind PgBouncer in transaction pooling.

What a caller may rely on:

- No named prepared statements and no statement cache (``statement_cache_size=0``): a pooled
  server connection may serve another client between two of our transactions.
- No session state. A tenant transaction runs as the role ``rivergen_app`` (``SET LOCAL ROLE``)
  with ``set_config('app.workspace_id', $1, true)``; Postgres drops both at commit or rollback,
  so neither can reach another pooled request. Row-level security policies for that role
  compare rows with ``app_workspace_id()``. A transaction without a workspace runs as the login
  role (account and system work that spans workspaces).
- Connection failures and timeouts become :class:`DependencyUnavailable` (HTTP 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from rivergen.errors import DependencyUnavailable
from rivergen.idempotency.claim import IdempotencyClaim, current_claim
from rivergen.settings import PostgresSettings

# Errors that mean "Postgres or the bouncer is not there right now", as opposed to a bad query.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
)


# One round trip: drop to the application role (row-level security applies to it) and set the
# tenant the policies compare with.
_ENTER_TENANT = (
    "SELECT set_config('role', 'rivergen_app', true), set_config('app.workspace_id', $1, true)"
)


def _pgbouncer_safe_connect_kwargs(settings: PostgresSettings) -> dict[str, Any]:
    return {
        "statement_cache_size": 0,
        "max_cached_statement_lifetime": 0,
        "timeout": settings.connect_timeout_s,
        "command_timeout": settings.command_timeout_s,
    }


class Database:
    """The process's pool. Open it once (a lifespan, a deployment's constructor), share it."""

    def __init__(self, dsn: str, settings: PostgresSettings) -> None:
        self._dsn = dsn
        self._settings = settings
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=self._settings.pool_min_size,
                max_size=self._settings.pool_max_size,
                **_pgbouncer_safe_connect_kwargs(self._settings),
            )
        except UNAVAILABLE_ERRORS as exc:
            raise DependencyUnavailable(f"postgres is unreachable: {exc}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("Database.open() was not called")
        return self._pool

    @asynccontextmanager
    async def transaction(
        self, workspace_id: str | None = None
    ) -> AsyncIterator[asyncpg.Connection]:
        """A connection inside one transaction, with the tenant context set if given.

        The context lives exactly as long as the transaction (``set_config(..., true)``).
        During a request with an ``Idempotency-Key`` the key rides along (see
        :mod:`rivergen.idempotency.claim`): the first tenant transaction that writes records the
        key with its effect, and its commit waits for the response.
        """
        claim = current_claim()
        if claim is not None:
            await claim.settle()
            if workspace_id is not None:
                async with self._keyed_transaction(claim, str(workspace_id)) as conn:
                    yield conn
                return
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                if workspace_id is not None:
                    # Both last until the transaction ends: nothing reaches the next client of
                    # a pooled server connection.
                    await conn.execute(_ENTER_TENANT, str(workspace_id))
                yield conn
        except UNAVAILABLE_ERRORS as exc:
            raise DependencyUnavailable(f"postgres is unavailable: {exc}") from exc

    @asynccontextmanager
    async def _keyed_transaction(
        self, claim: IdempotencyClaim, workspace_id: str
    ) -> AsyncIterator[asyncpg.Connection]:
        parked = False
        try:
            conn = await self.pool.acquire()
        except UNAVAILABLE_ERRORS as exc:
            raise DependencyUnavailable(f"postgres is unavailable: {exc}") from exc
        try:
            tx = conn.transaction()
            await tx.start()
            try:
                await conn.execute(_ENTER_TENANT, workspace_id)
                await claim.check(conn, workspace_id)
                yield conn
                parked = await claim.before_commit(conn, workspace_id)
            except BaseException:
                with contextlib.suppress(Exception):  # a broken connection rolls back by itself
                    await tx.rollback()
                raise
            if parked:
                claim.park(self, conn, tx, lambda: self.pool.release(conn))
            else:
                await tx.commit()
        except UNAVAILABLE_ERRORS as exc:
            raise DependencyUnavailable(f"postgres is unavailable: {exc}") from exc
        finally:
            if not parked:
                await self.pool.release(conn)

    async def ping(self, timeout_s: float) -> float:
        """Round-trip one query; returns the latency in milliseconds."""
        start = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s), self.pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        except UNAVAILABLE_ERRORS as exc:
            raise DependencyUnavailable(f"postgres is unavailable: {exc}") from exc
        return (time.perf_counter() - start) * 1000.0
