"""The sweeper of abandoned uploads: what clients started and never finished.

An upload still ``open`` (or ``failed``) past its ``expires_at``, or stuck in ``completing``
for ``sweep_grace_s`` beyond it, has its multipart upload aborted in object storage (its parts
are billed by S3 until then) and is marked ``expired``. A completion racing the sweeper is safe:
both change an upload only from the status they read, under its row lock.

Finding the candidates reads across workspaces, so it runs as the login role, outside row-level
security, and reads only ids; each upload is then changed in a transaction of its own workspace,
under row-level security like any request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from uuid import UUID

from rivergen.clients import require
from rivergen.db import Database
from rivergen.errors import RiverGenError
from rivergen.objectstore import ObjectStore, connect_object_store
from rivergen.settings import Settings, StorageSettings

logger = logging.getLogger(__name__)

_CANDIDATES = (
    "SELECT id, workspace_id, status FROM uploads "
    "WHERE (status IN ('open', 'failed') AND expires_at <= $1) "
    "OR (status = 'completing' AND expires_at <= $2) "
    "ORDER BY expires_at LIMIT $3"
)


class UploadSweeper:
    """Expires abandoned uploads. ``sweep_once`` is one round; ``run`` repeats it."""

    def __init__(
        self,
        db: Database,
        objects: ObjectStore,
        settings: StorageSettings | None = None,
        *,
        batch_size: int = 500,
    ) -> None:
        self._db = db
        self._objects = objects
        self._settings = settings or StorageSettings()
        self._batch_size = batch_size

    @classmethod
    async def open(cls, settings: Settings) -> UploadSweeper:
        """A sweeper with its own pool and object store (what its deployment runs)."""
        dsn = require(settings.postgres.dsn, "postgres", "RIVERGEN_POSTGRES__DSN")
        db = Database(dsn, settings.postgres)
        await db.open()
        return cls(db, connect_object_store(settings), settings.storage)

    async def close(self) -> None:
        await self._objects.close()
        await self._db.close()

    async def sweep_once(self, now: datetime | None = None) -> int:
        """Expire every abandoned upload as of ``now`` (default: the present); how many were
        expired. An upload whose abort fails is left as it was, for the next round."""
        moment = now or datetime.now(UTC)
        stuck_before = moment - timedelta(seconds=self._settings.sweep_grace_s)
        expired = 0
        while True:
            # The only read across workspaces: the login role, ids and status only.
            async with self._db.transaction() as conn:
                rows = await conn.fetch(_CANDIDATES, moment, stuck_before, self._batch_size)
            swept = [await self._expire(r["workspace_id"], r["id"], r["status"]) for r in rows]
            expired += sum(swept)
            if len(rows) < self._batch_size or not any(swept):
                return expired

    async def _expire(self, workspace: UUID, upload: UUID, status: str) -> bool:
        async with self._db.transaction(str(workspace)) as conn:
            row = await conn.fetchrow(
                "UPDATE uploads SET status = 'expired' WHERE id = $1 AND status = $2 "
                "RETURNING object_key, store_upload_id",
                upload,
                status,
            )
        if row is None:
            return False  # completed or aborted meanwhile
        try:
            await self._objects.abort_multipart(row["object_key"], row["store_upload_id"])
        except RiverGenError:
            logger.warning(
                "could not abort expired upload %s; retrying later", upload, exc_info=True
            )
            async with self._db.transaction(str(workspace)) as conn:
                await conn.execute(
                    "UPDATE uploads SET status = $2 WHERE id = $1 AND status = 'expired'",
                    upload,
                    status,
                )
            return False
        logger.info("expired abandoned upload %s (was %s)", upload, status)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every ``sweep_interval_s`` until ``stop`` is set; a failed round is logged
        and the next one tries again."""
        while not stop.is_set():
            try:
                await self.sweep_once()
            except RiverGenError:
                logger.warning("a sweep of abandoned uploads failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._settings.sweep_interval_s)
