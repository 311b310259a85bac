"""An asyncpg pool that works behind PgBouncer in transaction pooling.

What a caller may rely on:

- No named prepared statements and no statement cache (``statement_cache_size=0``): a pooled
  server connection may serve another client between two of our transactions.
- No session state. A tenant transaction runs as the role ``rivergen_app`` (``SET LOCAL ROLE``)
  with ``set_config('app.workspace_id', <its id>, true)``; Postgres drops both at commit or
  rollback, so neither can reach another pooled request. Row-level security policies for that role
  compare rows with ``app_workspace_id()``. A transaction without a workspace runs as the login
  role (account and system work that spans workspaces).
- Connection failures and timeouts become :class:`DependencyUnavailable` (HTTP 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from rivergen.errors import DependencyUnavailable
from rivergen.idempotency.claim import IdempotencyClaim, current_claim
from rivergen.settings import PostgresSettings

# Errors that mean "Postgres or the bouncer is not there right now", as opposed to a bad query.
# Class 08 (connection exception) covers what PgBouncer answers when its server is gone
# ("server conn crashed?", "pgbouncer cannot connect to server": 08P01); class 57P0x is a
# server shutting down or starting.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
    # PgBouncer tells an idle client that its server connection died ("server conn
    # crashed?") with a message asyncpg does not expect there; the connection's protocol
    # state is then stuck ("cannot switch to state N; another operation is in progress"),
    # seen when Postgres restarts behind the bouncer. The connection is dropped, 503.
    asyncpg.exceptions.InternalClientError,
)

log = logging.getLogger(__name__)

# One round trip: drop to the application role (row-level security applies to it) and set the
# tenant the policies compare with. A simple query (one round trip, where a parameter costs a
# second: no statement cache behind PgBouncer), so the id is written in, as a UUID's own text.
_ENTER_TENANT = (
    "SELECT set_config('role', 'rivergen_app', true), set_config('app.workspace_id', '{}', true)"
)


async def _reset(conn: asyncpg.Connection) -> None:
    """What a released connection needs beyond asyncpg's own (it ends an open transaction and
    drops listeners): nothing. Behind PgBouncer in transaction pooling there is no session
    state to reset (none is ever set outside a transaction), and asyncpg's default reset query
    would cost a round trip per transaction."""


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
                reset=_reset,
                **_pgbouncer_safe_connect_kwargs(self._settings),
            )
        except UNAVAILABLE_ERRORS as exc:
            raise DependencyUnavailable(f"postgres is unreachable: {_reason(exc)}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            # A process that started while Postgres was down retries open() in the background
            # (PlatformClients): until then every request is a 503, never a 500.
            raise DependencyUnavailable(
                "postgres is not connected yet", code="postgres_unavailable"
            )
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
        claim = await _claim_for(workspace_id)
        pool = self.pool
        try:
            conn = await pool.acquire(timeout=self._settings.acquire_timeout_s)
        except UNAVAILABLE_ERRORS as exc:
            raise DependencyUnavailable(f"postgres is unavailable: {_reason(exc)}") from exc
        parked = False
        try:
            transaction = conn.transaction()
            await transaction.start()
            try:
                await _enter(conn, workspace_id, claim)
                yield conn
                parked = claim is not None and await claim.before_commit(conn, str(workspace_id))
            except UNAVAILABLE_ERRORS:
                raise
            except asyncio.CancelledError:
                _discard(conn)  # cancelled mid-statement: the connection is in no known state
                raise
            except BaseException:
                await _rollback_or_close(conn, transaction)
                raise
            if parked:
                # The key's effect: committed with the response once the middleware has it.
                assert claim is not None
                claim.park(self, conn, transaction, lambda: _release(pool, conn))
            else:
                await transaction.commit()
        except UNAVAILABLE_ERRORS as exc:
            # The server is gone or silent: never wait on this connection again (a rollback
            # and the cancel asyncpg sends after a timeout would each wait a command timeout).
            # Closing it ends its transaction on the server; the pool opens a fresh one.
            _discard(conn)
            raise DependencyUnavailable(f"postgres is unavailable: {_reason(exc)}") from exc
        finally:
            if not parked:
                await _release(pool, conn)

    async def ping(self, timeout_s: float) -> float:
        """Round-trip one query; returns the latency in milliseconds."""
        start = time.perf_counter()
        pool = self.pool
        try:
            conn = await pool.acquire(timeout=timeout_s)
        except UNAVAILABLE_ERRORS as exc:
            raise DependencyUnavailable(f"postgres is unavailable: {_reason(exc)}") from exc
        try:
            remaining = max(0.001, timeout_s - (time.perf_counter() - start))
            await conn.fetchval("SELECT 1", timeout=remaining)
        except asyncio.CancelledError:
            _discard(conn)  # cancelled mid-statement (a caller's deadline)
            raise
        except UNAVAILABLE_ERRORS as exc:
            _discard(conn)
            raise DependencyUnavailable(f"postgres is unavailable: {_reason(exc)}") from exc
        finally:
            await _release(pool, conn)
        return (time.perf_counter() - start) * 1000.0


async def _claim_for(workspace_id: str | None) -> IdempotencyClaim | None:
    """The request's ``Idempotency-Key`` claim, if this transaction may be its effect (a key
    belongs to a workspace); an earlier transaction of the request waiting on it commits first."""
    claim = current_claim()
    if claim is None:
        return None
    await claim.settle()
    return claim if workspace_id is not None else None


async def _enter(
    conn: asyncpg.Connection, workspace_id: str | None, claim: IdempotencyClaim | None
) -> None:
    if workspace_id is not None:
        # Both last until the transaction ends: nothing reaches the next client of a pooled
        # server connection.
        await conn.execute(_ENTER_TENANT.format(uuid.UUID(str(workspace_id))))
        if claim is not None:
            await claim.check(conn, str(workspace_id))


async def _release(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    """Give a connection back. Resetting it may find its server gone (a restart behind the
    bouncer): asyncpg then closes it, and the pool opens another; the work done on it (a commit
    included) stands, so that is no error of the request."""
    try:
        await pool.release(conn)
    except UNAVAILABLE_ERRORS as exc:
        log.info("a pooled connection was dropped on release: %s", _reason(exc))


def _discard(conn: asyncpg.Connection) -> None:
    """Close a connection that cannot be trusted any more, unless asyncpg already has (a
    connection that lost its server is detached from its pool proxy at once)."""
    with contextlib.suppress(asyncpg.exceptions.InterfaceError):
        conn.terminate()


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def _rollback_or_close(
    conn: asyncpg.Connection, transaction: asyncpg.transaction.Transaction
) -> None:
    """Roll back after the caller's own error; a connection that cannot is closed instead."""
    try:
        await transaction.rollback()
    except UNAVAILABLE_ERRORS:
        _discard(conn)
