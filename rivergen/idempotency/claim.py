"""One request's idempotency key, as the database layer sees it.

The API's middleware puts an :class:`IdempotencyClaim` in a context variable for an unsafe
request that carries ``Idempotency-Key``; :meth:`rivergen.db.Database.transaction` reads it:

- The request's first tenant transaction looks the key up (``check``): a live record with
  another request's fingerprint is 422 ``idempotency_key_reused``, one still without a response
  is 409 ``idempotency_in_progress``, a finished one is replayed (the middleware answers with
  the stored status and body; nothing runs again).
- The first tenant transaction that changed a row records the key in that same transaction
  (``before_commit``), and instead of committing it is parked: the middleware writes the
  response into the key's row and commits the effect, the key and the response at once
  (``finish``). A crash anywhere before that commit leaves neither the effect nor the key.
- Any later transaction of the same request commits the parked one first (``settle``), so the
  request sees its own writes; the response is then stored in a transaction of its own.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import asyncpg
from asyncpg.transaction import Transaction

from rivergen.errors import Conflict, DependencyUnavailable, ValidationFailed
from rivergen.idempotency import store


class Transactions(Protocol):
    """What a parked claim needs of :class:`rivergen.db.Database` (which imports this module)."""

    def transaction(
        self, workspace_id: str | None = None
    ) -> AbstractAsyncContextManager[asyncpg.Connection]: ...


log = logging.getLogger(__name__)

_current: ContextVar[IdempotencyClaim | None] = ContextVar("rivergen_idempotency", default=None)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    content_type: str | None
    body: bytes


class IdempotentReplay(Conflict):
    """The key's first request has answered: its stored response is the answer (the middleware
    sends it in place of whatever the route made of this exception)."""


class Phase(enum.Enum):
    OPEN = "open"  # not looked up yet
    CHECKED = "checked"  # looked up: no live record
    CLAIMING = "claiming"  # a transaction is recording the key
    PARKED = "parked"  # effect + key written, transaction open, waiting for the response
    COMMITTED = "committed"  # effect + key committed, response not stored yet
    DONE = "done"  # nothing more to do


def in_progress(key: str) -> Conflict:
    return Conflict(
        f"a request with Idempotency-Key {key!r} is still in progress; retry later",
        code="idempotency_in_progress",
    )


class IdempotencyClaim:
    """The key of one request. ``principal`` names the caller once authenticated (None for a
    public route: the key then does nothing)."""

    def __init__(
        self, key: str, fingerprint: str, ttl_s: int, principal: Callable[[], str | None]
    ) -> None:
        self.key = key
        self.fingerprint = fingerprint
        self.ttl_s = ttl_s
        self._principal = principal
        self.phase = Phase.OPEN
        self.workspace: UUID | None = None
        self.owner: str | None = None
        self.replay: StoredResponse | None = None
        self._conn: asyncpg.Connection | None = None
        self._tx: Transaction | None = None
        self._release: Callable[[], Awaitable[None]] | None = None
        self._db: Transactions | None = None

    def _applies(self, workspace: str) -> bool:
        return self.workspace is not None and str(self.workspace) == str(workspace)

    async def check(self, conn: asyncpg.Connection, workspace: str) -> None:
        """In the request's first tenant transaction: look the key up (see the module)."""
        if self.phase is not Phase.OPEN:
            return
        owner = self._principal()
        if owner is None:
            self.phase = Phase.DONE
            return
        self.workspace, self.owner, self.phase = UUID(str(workspace)), owner, Phase.CHECKED
        record = await store.find_live(conn, self.workspace, owner, self.key)
        if record is None:
            return
        self.phase = Phase.DONE
        if record.fingerprint != self.fingerprint:
            raise ValidationFailed(
                f"Idempotency-Key {self.key!r} was used for another request",
                code="idempotency_key_reused",
            )
        if record.status is None:
            raise in_progress(self.key)
        self.replay = StoredResponse(record.status, record.content_type, record.body or b"")
        raise IdempotentReplay("replayed", code="idempotency_replayed")

    async def before_commit(self, conn: asyncpg.Connection, workspace: str) -> bool:
        """True when this transaction now holds the key: the caller parks it (``park``)."""
        if self.phase is not Phase.CHECKED or not self._applies(workspace):
            return False
        if not await store.wrote_anything(conn) or self.phase is not Phase.CHECKED:
            return False
        # Taken before the next await: a concurrent transaction of this request must not also
        # try to record the key (it would wait on this one's uncommitted row).
        self.phase = Phase.CLAIMING
        assert self.workspace is not None and self.owner is not None
        if not await store.claim(
            conn, self.workspace, self.owner, self.key, self.fingerprint, self.ttl_s
        ):
            self.phase = Phase.DONE
            raise in_progress(self.key)
        # Each new key clears some expired ones of its workspace: the table stays bounded.
        await store.delete_expired(conn, limit=20)
        return True

    def park(
        self,
        db: Transactions,
        conn: asyncpg.Connection,
        tx: Transaction,
        release: Callable[[], Awaitable[None]],
    ) -> None:
        self._db, self._conn, self._tx, self._release = db, conn, tx, release
        self.phase = Phase.PARKED

    async def _end(self, commit: bool) -> None:
        tx, release = self._tx, self._release
        assert tx is not None and release is not None
        self._conn = self._tx = self._release = None
        try:
            if commit:
                await tx.commit()
            else:
                await tx.rollback()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            self.phase = Phase.DONE
            raise DependencyUnavailable(f"postgres is unavailable: {exc}") from exc
        finally:
            await release()

    async def settle(self) -> None:
        """Commit a parked transaction (another transaction of this request is about to run)."""
        if self.phase is Phase.PARKED:
            await self._end(commit=True)
            self.phase = Phase.COMMITTED

    async def abandon(self) -> None:
        """The request failed without an answer: a parked effect is rolled back."""
        if self.phase is Phase.PARKED:
            self.phase = Phase.DONE
            try:
                await self._end(commit=False)
            except DependencyUnavailable:
                log.warning("could not roll back the transaction of key %r", self.key)

    async def finish(self, status: int, content_type: str | None, body: bytes) -> None:
        """Store the response with the key and commit (see the module). A server error rolls a
        parked effect back instead: the client's retry runs the request again."""
        phase, self.phase = self.phase, Phase.DONE
        if phase not in (Phase.PARKED, Phase.COMMITTED):
            return
        assert self.workspace is not None and self.owner is not None
        if phase is Phase.PARKED:
            if status >= 500:
                await self._end(commit=False)
                return
            assert self._conn is not None
            try:
                await store.save_response(
                    self._conn, self.workspace, self.owner, self.key, status, content_type, body
                )
            except BaseException:
                await self._end(commit=False)
                raise
            await self._end(commit=True)
        elif phase is Phase.COMMITTED:
            assert self._db is not None
            async with self._db.transaction(str(self.workspace)) as conn:
                await store.save_response(
                    conn, self.workspace, self.owner, self.key, status, content_type, body
                )


async def settle_pending() -> None:
    """Commit the current request's parked transaction now, if it has one.

    For code that hands what it just wrote to another process (the job supervisor reads the
    job's row): that process must see it. The response is then stored right after.
    """
    claim = _current.get()
    if claim is not None:
        await claim.settle()


def current_claim() -> IdempotencyClaim | None:
    return _current.get()


def set_claim(claim: IdempotencyClaim | None) -> Token[IdempotencyClaim | None]:
    return _current.set(claim)


def reset_claim(token: Token[IdempotencyClaim | None]) -> None:
    _current.reset(token)
