"""The catalog a prompt is understood against: the workspace's datasets (current versions) as
named tables, built from the dataset registry."""

from __future__ import annotations

import json
from uuid import UUID

import asyncpg

from rivergen.db import Database
from rivergen.services.planning.catalog import CatalogColumn, CatalogTable, PromptCatalog

MAX_TABLES = 500


async def catalog_of(conn: asyncpg.Connection, limit: int = MAX_TABLES) -> PromptCatalog:
    """The datasets of the connection's tenant transaction, newest first."""
    rows = await conn.fetch(
        "SELECT d.id, d.name, d.description, d.tags, v.version, v.columns, v.row_count "
        "FROM datasets d JOIN dataset_versions v "
        "ON v.dataset_id = d.id AND v.version = d.current_version "
        "ORDER BY d.created_at DESC, d.id DESC LIMIT $1",
        limit,
    )
    return PromptCatalog(
        tables=[
            CatalogTable(
                dataset_id=r["id"],
                version=r["version"],
                name=r["name"],
                description=r["description"],
                tags=list(r["tags"]),
                columns=[
                    CatalogColumn(name=c["name"], type=c["type"]) for c in json.loads(r["columns"])
                ],
                row_count=r["row_count"],
            )
            for r in rows
        ]
    )


async def load_catalog(db: Database, workspace: UUID) -> PromptCatalog:
    async with db.transaction(str(workspace)) as conn:
        return await catalog_of(conn)
