"""Data sources of a workspace: register, list, discover the schema, read, delete.

The row keeps the config with its secrets (see the migration); every view of it leaves the
secrets out. No transaction is held open while a source is being read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import pyarrow as pa

from rivergen.accounts.principal import RequestContext
from rivergen.connectors.config import (
    SECRET_FIELDS,
    SOURCE_CONFIG,
    S3Source,
    redacted,
    source_key,
    to_storage,
)
from rivergen.connectors.read import AnySource, discover_schema, read_source
from rivergen.connectors.schemas import (
    DataSourceCreate,
    DataSourcePage,
    DataSourceView,
    DiscoveredSchema,
)
from rivergen.connectors.secrets import SecretBox
from rivergen.db import Database
from rivergen.errors import Conflict, NotFound
from rivergen.pagination import after_cursor, decode_cursor, encode_cursor
from rivergen.services.governance import GovernanceService
from rivergen.settings import Settings

_COLUMNS = "id, name, kind, config, created_by, created_at, discovered_schema, discovered_at"


def _not_found(source: UUID) -> NotFound:
    return NotFound(f"data source {source} not found", code="data_source_not_found")


class DataSourceService:
    def __init__(
        self, db: Database, settings: Settings, governance: GovernanceService | None = None
    ) -> None:
        self._db = db
        self._settings = settings
        self._box = SecretBox.from_settings(settings)
        self._governance = governance

    async def _raw_access(self, context: RequestContext, config: AnySource) -> None:
        # The platform's bucket holds the workspace's raw files and staged datasets: a caller
        # whom the workspace's policies govern may not read it around them.
        if (
            self._governance is not None
            and isinstance(config, S3Source)
            and config.uses_platform_credentials
        ):
            await self._governance.check_raw_access(context, "the platform's bucket")

    def _config(self, row: Any) -> AnySource:
        stored = json.loads(row["config"])
        return SOURCE_CONFIG.validate_python(self._box.open_fields(stored, SECRET_FIELDS))

    def _view(self, row: Any) -> DataSourceView:
        schema = json.loads(row["discovered_schema"]) if row["discovered_schema"] else None
        return DataSourceView(
            id=row["id"],
            name=row["name"],
            kind=row["kind"],
            config=redacted(self._config(row)),
            created_by=row["created_by"],
            created_at=row["created_at"],
            columns=schema,
            discovered_at=row["discovered_at"],
        )

    async def create(self, context: RequestContext, request: DataSourceCreate) -> DataSourceView:
        """Register a source (its config already validated; nothing is contacted yet)."""
        workspace = context.require_workspace()
        config = json.dumps(to_storage(request.config, self._box.seal))
        try:
            async with self._db.transaction(str(workspace)) as conn:
                row = await conn.fetchrow(
                    "INSERT INTO data_sources (workspace_id, name, kind, config, created_by, "
                    f"source_key) VALUES ($1, $2, $3, $4::jsonb, $5, $6) RETURNING {_COLUMNS}",
                    workspace,
                    request.name,
                    request.config.kind,
                    config,
                    context.actor,
                    source_key(request.config),
                )
        except asyncpg.UniqueViolationError:
            raise Conflict(
                f"a data source named {request.name!r} exists", code="data_source_exists"
            ) from None
        return self._view(row)

    async def list(self, context: RequestContext, limit: int, cursor: str | None) -> DataSourcePage:
        """Newest first, ``limit`` a page; follow ``next_cursor``."""
        workspace = context.require_workspace()
        after = decode_cursor(cursor)
        async with self._db.transaction(str(workspace)) as conn:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM data_sources WHERE workspace_id = $1 "
                f"AND {after_cursor(2)} ORDER BY created_at DESC, id DESC LIMIT $4",
                workspace,
                after[0],
                after[1],
                limit + 1,
            )
        items = [self._view(r) for r in rows[:limit]]
        next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return DataSourcePage(items=items, next_cursor=next_cursor)

    async def _row(self, workspace: UUID, source: UUID) -> Any:
        async with self._db.transaction(str(workspace)) as conn:
            row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM data_sources WHERE id = $1", source)
        if row is None:
            raise _not_found(source)
        return row

    async def source_key(self, context: RequestContext, source: UUID) -> str:
        """The key of the data ``source`` reads (:func:`~rivergen.connectors.config.
        source_key`): what governance knows a copy of it by. The workspace's sources registered
        before keys were kept get theirs now, so a copy of any of them is known too."""
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            unkeyed = await conn.fetch(
                f"SELECT {_COLUMNS} FROM data_sources WHERE source_key IS NULL FOR UPDATE"
            )
            for row in unkeyed:
                await conn.execute(
                    "UPDATE data_sources SET source_key = $2 WHERE id = $1",
                    row["id"],
                    source_key(self._config(row)),
                )
            key = await conn.fetchval("SELECT source_key FROM data_sources WHERE id = $1", source)
        if key is None:
            raise _not_found(source)
        return str(key)

    async def get(self, context: RequestContext, source: UUID) -> DataSourceView:
        return self._view(await self._row(context.require_workspace(), source))

    async def delete(self, context: RequestContext, source: UUID) -> None:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            deleted = await conn.fetchval(
                "DELETE FROM data_sources WHERE id = $1 RETURNING id", source
            )
        if deleted is None:
            raise _not_found(source)

    async def discover(self, context: RequestContext, source: UUID) -> DiscoveredSchema:
        """Read the source's columns now, store them on the source, return them."""
        workspace = context.require_workspace()
        row = await self._row(workspace, source)
        config = self._config(row)
        await self._raw_access(context, config)
        columns = await discover_schema(config, self._settings, workspace_id=workspace)
        now = datetime.now(UTC)
        stored = json.dumps([c.model_dump() for c in columns])
        async with self._db.transaction(str(workspace)) as conn:
            updated = await conn.fetchval(
                "UPDATE data_sources SET discovered_schema = $2::jsonb, discovered_at = $3 "
                "WHERE id = $1 RETURNING id",
                source,
                stored,
                now,
            )
        if updated is None:  # deleted while it was being read
            raise _not_found(source)
        return DiscoveredSchema(source_id=source, columns=columns, discovered_at=now)

    async def read(
        self, context: RequestContext, source_id: UUID, *, limit: int | None = None
    ) -> tuple[DataSourceView, pa.Table]:
        """The source (redacted) and its rows as one Arrow table; see
        :func:`rivergen.connectors.read_source` for ``limit`` and the size limits."""
        workspace = context.require_workspace()
        row = await self._row(workspace, source_id)
        config = self._config(row)
        await self._raw_access(context, config)
        table = await read_source(config, self._settings, limit=limit, workspace_id=workspace)
        return self._view(row), table
