"""The semantic layer's service: the current version, the automatic draft, a person's edit
(a whole document), the confirmation, the history. Each save is a new version; the prompt
providers use the newest confirmed one (:func:`layer_in_use`)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg

from rivergen.accounts.principal import RequestContext
from rivergen.agents.prompt_studio.catalog import catalog_of, governed_catalog
from rivergen.db import Database
from rivergen.errors import Conflict, NotFound
from rivergen.pagination import decode_cursor, encode_cursor
from rivergen.semantic import store
from rivergen.semantic.draft import draft_layer, merged
from rivergen.semantic.schemas import (
    ConfirmRequest,
    SemanticLayer,
    SemanticLayerUpdate,
    SemanticLayerVersion,
    SemanticLayerVersionPage,
)
from rivergen.semantic.validate import kept_valid, validate
from rivergen.services.governance import GovernanceService
from rivergen.services.governance.evaluation import changes_data


def layer_not_found() -> NotFound:
    return NotFound(
        "the workspace has no semantic layer yet: POST /api/v1/semantic-layer/draft makes one",
        code="semantic_layer_not_found",
    )


def _conflict(message: str, current: int | None) -> Conflict:
    return Conflict(message, code="semantic_layer_conflict", details={"current_version": current})


def _layer(row: Any) -> SemanticLayer:
    raw = row["layer"]
    return SemanticLayer.model_validate(json.loads(raw) if isinstance(raw, str) else raw)


def view(row: Any, in_use: int | None) -> SemanticLayerVersion:
    return SemanticLayerVersion(
        version=row["version"],
        status=row["status"],
        source=row["source"],
        layer=_layer(row),
        created_by=row["created_by"],
        created_at=row["created_at"],
        confirmed_by=row["confirmed_by"],
        confirmed_at=row["confirmed_at"],
        in_use=row["version"] == in_use,
    )


async def layer_in_use(conn: asyncpg.Connection) -> tuple[SemanticLayer, int] | None:
    """The newest confirmed layer of the connection's tenant, and its version."""
    row = await store.confirmed(conn)
    return None if row is None else (_layer(row), row["version"])


class SemanticService:
    def __init__(self, db: Database, governance: GovernanceService | None = None) -> None:
        self._db = db
        self._governance = governance

    async def current(self, context: RequestContext) -> SemanticLayerVersion:
        """The newest version; 404 ``semantic_layer_not_found`` until there is one."""
        async with self._db.transaction(str(context.require_workspace())) as conn:
            row = await store.current(conn)
            used = await store.confirmed(conn)
        if row is None:
            raise layer_not_found()
        return view(row, used["version"] if used else None)

    async def draft(self, context: RequestContext) -> SemanticLayerVersion:
        """A new draft version from the catalog and the kept profiles (a profile the caller's
        policies change is not read), over the current version: what people wrote stays, new
        datasets and columns are drafted, entries that no longer hold are dropped."""
        catalog, governed = await governed_catalog(self._db, context, self._governance)
        readable = [
            t.dataset_id
            for t in catalog.tables
            if t.dataset_id not in governed or not changes_data(governed[t.dataset_id])
        ]
        async with self._db.transaction(str(context.require_workspace())) as conn:
            kept = await store.profiles(conn, readable)
            row = await store.current(conn)
        profiles = {t.name: kept.get(t.dataset_id) for t in catalog.tables}
        drafted = draft_layer(catalog, profiles)
        base = _layer(row) if row is not None else None

        def checked() -> SemanticLayer:
            layer = kept_valid(merged(drafted, base), catalog)
            validate(layer, catalog)
            return layer

        layer = await asyncio.to_thread(checked)
        return await self._save(context, layer, "draft", None)

    async def update(
        self, context: RequestContext, body: SemanticLayerUpdate
    ) -> SemanticLayerVersion:
        """A new draft version with ``body``'s document, once every entry holds (422
        ``semantic_invalid``); 409 ``semantic_layer_conflict`` if ``based_on`` is not the
        current version."""
        async with self._db.transaction(str(context.require_workspace())) as conn:
            catalog = await catalog_of(conn)
        layer = SemanticLayer.model_validate(body.model_dump(exclude={"based_on"}))
        await asyncio.to_thread(validate, layer, catalog)
        return await self._save(context, layer, "edit", body.based_on)

    async def _save(
        self, context: RequestContext, layer: SemanticLayer, source: str, based_on: int | None
    ) -> SemanticLayerVersion:
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            await store.lock(conn, workspace)
            row = await store.current(conn)
            number = row["version"] if row is not None else None
            if based_on is not None and based_on != number:
                raise _conflict(
                    f"the layer is at version {number}, not {based_on}: edit the current one",
                    number,
                )
            saved = await store.insert(
                conn,
                workspace,
                (number or 0) + 1,
                source,
                layer.model_dump(mode="json"),
                context.actor,
            )
            used = await store.confirmed(conn)
        return view(saved, used["version"] if used else None)

    async def confirm(self, context: RequestContext, body: ConfirmRequest) -> SemanticLayerVersion:
        """Confirm the current version (the providers use it from now on); confirming a
        confirmed version changes nothing. 404 ``semantic_layer_not_found``; 409
        ``semantic_layer_conflict`` if ``body.version`` is not the current one."""
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            await store.lock(conn, workspace)
            row = await store.current(conn)
            if row is None:
                raise layer_not_found()
            if body.version is not None and body.version != row["version"]:
                raise _conflict(
                    f"version {body.version} is not the current one ({row['version']})",
                    row["version"],
                )
            if row["status"] != "confirmed":
                row = await store.confirm(conn, row["version"], context.actor)
        return view(row, row["version"])

    async def versions(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> SemanticLayerVersionPage:
        """Every version, newest first; follow ``next_cursor``."""
        after = decode_cursor(cursor)
        async with self._db.transaction(str(context.require_workspace())) as conn:
            rows = await store.page(conn, after, limit)
            used = await store.confirmed(conn)
        number = used["version"] if used else None
        return SemanticLayerVersionPage(
            items=[view(r, number) for r in rows[:limit]],
            next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )
