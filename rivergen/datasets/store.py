"""SQL of the dataset registry. Every function takes the connection of a tenant transaction
(row-level security applies) and never commits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from rivergen.datasets.schemas import ColumnInfo, StagedVersion
from rivergen.datasets.search import words
from rivergen.pagination import after_cursor

DATASET_COLUMNS = (
    "d.id, d.name, d.description, d.tags, d.current_version, d.created_at, d.updated_at, "
    "coalesce(v.row_count, 0) AS row_count"
)
_CURRENT = "LEFT JOIN dataset_versions v ON v.dataset_id = d.id AND v.version = d.current_version"


async def get(conn: asyncpg.Connection, dataset: UUID, *, lock: bool = False) -> Any:
    return await conn.fetchrow(
        f"SELECT {DATASET_COLUMNS} FROM datasets d {_CURRENT} WHERE d.id = $1"
        + (" FOR UPDATE OF d" if lock else ""),
        dataset,
    )


async def insert_dataset(
    conn: asyncpg.Connection,
    dataset: UUID,
    workspace: UUID,
    name: str,
    description: str,
    tags: list[str],
    actor: str,
) -> bool:
    """False when the workspace already has a dataset of that name."""
    inserted = await conn.fetchval(
        "INSERT INTO datasets (id, workspace_id, name, description, tags, created_by) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, name) DO NOTHING "
        "RETURNING id",
        dataset,
        workspace,
        name,
        description,
        tags,
        actor,
    )
    return inserted is not None


async def name_taken(conn: asyncpg.Connection, name: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM datasets WHERE name = $1)", name))


async def insert_version(
    conn: asyncpg.Connection,
    dataset: UUID,
    workspace: UUID,
    staged: StagedVersion,
    source: dict[str, Any],
    actor: str,
) -> int:
    version: int = await conn.fetchval(
        "WITH next AS (UPDATE datasets SET current_version = current_version + 1, "
        "updated_at = now() WHERE id = $1 RETURNING current_version) "
        "INSERT INTO dataset_versions (dataset_id, version, workspace_id, object_key, "
        "source_format, row_count, size_bytes, columns, source, invalid_row_count, invalid_rows, "
        "created_by) SELECT $1, current_version, $2::uuid, $3, $4, $5::bigint, $6::bigint, "
        "$7::jsonb, $8::jsonb, $9::bigint, $10::jsonb, $11 "
        "FROM next RETURNING version",
        dataset,
        workspace,
        staged.object_key,
        str(staged.source_format),
        staged.row_count,
        staged.size_bytes,
        json.dumps([c.model_dump() for c in staged.columns]),
        json.dumps(source),
        staged.invalid_row_count,
        json.dumps([r.model_dump() for r in staged.invalid_rows]),
        actor,
    )
    return version


# One lineage edge: (source kind, source id, source version, target kind, target id, target
# version, relation).
LineageEdge = tuple[str, UUID, int | None, str, UUID, int | None, str]


async def add_lineage(
    conn: asyncpg.Connection,
    workspace: UUID,
    source_kind: str,
    source_id: UUID,
    source_version: int | None,
    target_kind: str,
    target_id: UUID,
    target_version: int | None,
    relation: str,
) -> None:
    await add_lineage_edges(
        conn,
        workspace,
        [
            (
                source_kind,
                source_id,
                source_version,
                target_kind,
                target_id,
                target_version,
                relation,
            )
        ],
    )


async def add_lineage_edges(
    conn: asyncpg.Connection, workspace: UUID, edges: Sequence[LineageEdge]
) -> None:
    """Several lineage edges of one workspace, with one statement."""
    if not edges:
        return
    columns = list(zip(*edges, strict=True))
    await conn.execute(
        "INSERT INTO lineage_edges (workspace_id, source_kind, source_id, source_version, "
        "target_kind, target_id, target_version, relation) "
        "SELECT $1::uuid, * FROM unnest($2::text[], $3::uuid[], $4::int[], $5::text[], $6::uuid[], "
        "$7::int[], $8::text[])",
        workspace,
        *(list(c) for c in columns),
    )


async def versions(conn: asyncpg.Connection, dataset: UUID) -> list[Any]:
    rows: list[Any] = await conn.fetch(
        "SELECT * FROM dataset_versions WHERE dataset_id = $1 ORDER BY version DESC", dataset
    )
    return rows


async def version(conn: asyncpg.Connection, dataset: UUID, number: int | None) -> Any:
    return await conn.fetchrow(
        "SELECT v.* FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id "
        "WHERE v.dataset_id = $1 AND v.version = coalesce($2, d.current_version)",
        dataset,
        number,
    )


async def column_metadata(conn: asyncpg.Connection, dataset: UUID) -> dict[str, Any]:
    rows = await conn.fetch(
        "SELECT name, description, tags FROM dataset_columns WHERE dataset_id = $1", dataset
    )
    return {r["name"]: r for r in rows}


async def set_column(
    conn: asyncpg.Connection,
    dataset: UUID,
    workspace: UUID,
    name: str,
    description: str | None,
    tags: list[str] | None,
) -> None:
    await conn.execute(
        "INSERT INTO dataset_columns (dataset_id, name, workspace_id, description, tags) "
        "VALUES ($1, $2, $3, coalesce($4, ''), coalesce($5, '{}'::text[])) "
        "ON CONFLICT (dataset_id, name) DO UPDATE SET "
        "description = coalesce($4, dataset_columns.description), "
        "tags = coalesce($5, dataset_columns.tags)",
        dataset,
        name,
        workspace,
        description,
        tags,
    )


async def update_dataset(
    conn: asyncpg.Connection, dataset: UUID, description: str | None, tags: list[str] | None
) -> None:
    await conn.execute(
        "UPDATE datasets SET description = coalesce($2, description), tags = coalesce($3, tags), "
        "updated_at = now() WHERE id = $1",
        dataset,
        description,
        tags,
    )


async def lineage(conn: asyncpg.Connection, dataset: UUID) -> tuple[list[Any], list[Any]]:
    upstream = await conn.fetch(
        "SELECT source_kind AS kind, source_id AS id, source_version AS version, relation "
        "FROM lineage_edges WHERE target_id = $1 ORDER BY id",
        dataset,
    )
    downstream = await conn.fetch(
        "SELECT target_kind AS kind, target_id AS id, target_version AS version, relation "
        "FROM lineage_edges WHERE source_id = $1 ORDER BY id",
        dataset,
    )
    return list(upstream), list(downstream)


# The search document: the name's words (weight A; an SQL expression), the tags' (B), the
# columns' names and tags (C) and the descriptions (D), the last three in parameters from
# ``first`` on.
def _search_document(name: str, first: int) -> str:
    parts = [name, *(f"${first + i}" for i in range(3))]
    return " || ".join(
        f"setweight(to_tsvector('english', {part}), '{weight}')"
        for part, weight in zip(parts, "ABCD", strict=True)
    )


def _search_texts(
    tags: list[str], columns: Sequence[ColumnInfo], meta: dict[str, Any], description: str
) -> tuple[str, str, str]:
    """The words of weights B, C and D (the name's are ``words(name)``)."""
    column_words = " ".join(words(c.name) for c in columns)
    column_tags = " ".join(" ".join(m["tags"]) for m in meta.values())
    descriptions = " ".join([description, *(m["description"] for m in meta.values())])
    return words(" ".join(tags)), f"{column_words} {words(column_tags)}", words(descriptions)


async def reindex(conn: asyncpg.Connection, dataset: UUID) -> None:
    """Rebuild the search document from the name, tags, the current columns (names, tags) and
    the descriptions of the dataset and its columns."""
    row = await conn.fetchrow(
        "SELECT d.name, d.description, d.tags, coalesce(v.columns, '[]'::jsonb) AS columns "
        f"FROM datasets d {_CURRENT} WHERE d.id = $1",
        dataset,
    )
    meta = await column_metadata(conn, dataset)
    columns = [ColumnInfo(**c) for c in json.loads(row["columns"])]
    texts = _search_texts(row["tags"], columns, meta, row["description"])
    await conn.execute(
        f"UPDATE datasets SET search = {_search_document('$2', 3)} WHERE id = $1",
        dataset,
        words(row["name"]),
        *texts,
    )


async def insert_indexed_dataset(
    conn: asyncpg.Connection,
    dataset: UUID,
    workspace: UUID,
    name: str,
    fallback: str,
    description: str,
    actor: str,
    columns: Sequence[ColumnInfo],
) -> bool:
    """A new dataset without tags or column metadata whose columns will be ``columns``, with
    its search document, in one statement: named ``name``, or ``fallback`` when the workspace
    has a dataset of that name. False when ``dataset`` exists already (nothing changes)."""
    inserted = await conn.fetchval(
        "WITH taken AS (SELECT EXISTS (SELECT 1 FROM datasets WHERE name = $3) AS t) "
        "INSERT INTO datasets (id, workspace_id, name, description, tags, created_by, search) "
        "SELECT $1::uuid, $2::uuid, CASE WHEN t THEN $4 ELSE $3 END, $5, '{}'::text[], $6, "
        f"{_search_document('CASE WHEN t THEN $11 ELSE $7 END', 8)} "
        "FROM taken ON CONFLICT DO NOTHING RETURNING id",
        dataset,
        workspace,
        name,
        fallback,
        description,
        actor,
        words(name),
        *_search_texts([], columns, {}, description),
        words(fallback),
    )
    return inserted is not None


async def page(
    conn: asyncpg.Connection, after: tuple[datetime | None, UUID | None], limit: int
) -> list[Any]:
    rows: list[Any] = await conn.fetch(
        f"SELECT {DATASET_COLUMNS} FROM datasets d {_CURRENT} "
        f"WHERE {after_cursor(1, 'd')} "
        "ORDER BY d.created_at DESC, d.id DESC LIMIT $3",
        after[0],
        after[1],
        limit + 1,
    )
    return rows


async def search(conn: asyncpg.Connection, query: str, limit: int) -> list[Any]:
    rows: list[Any] = await conn.fetch(
        f"SELECT {DATASET_COLUMNS}, coalesce(v.columns, '[]'::jsonb) AS columns, "
        "ts_rank_cd(d.search, q) AS score "
        f"FROM datasets d {_CURRENT}, to_tsquery('english', $1) q "
        "WHERE d.search @@ q ORDER BY score DESC, d.name LIMIT $2",
        query,
        limit,
    )
    return rows


async def save_profile(
    conn: asyncpg.Connection, dataset: UUID, version: int, workspace: UUID, profile: str
) -> None:
    await conn.execute(
        "INSERT INTO dataset_profiles (dataset_id, version, workspace_id, profile) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (dataset_id, version) DO UPDATE SET "
        "profile = excluded.profile, created_at = now()",
        dataset,
        version,
        workspace,
        profile,
    )


async def latest_profile(conn: asyncpg.Connection, dataset: UUID, version: int | None) -> Any:
    return await conn.fetchrow(
        "SELECT version, profile FROM dataset_profiles WHERE dataset_id = $1 "
        "AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1",
        dataset,
        version,
    )


async def delete(conn: asyncpg.Connection, dataset: UUID) -> list[Any]:
    """Delete the dataset; the keys and sizes of its versions' objects."""
    rows: list[Any] = await conn.fetch(
        "SELECT object_key, size_bytes FROM dataset_versions WHERE dataset_id = $1", dataset
    )
    await conn.execute("DELETE FROM lineage_edges WHERE target_id = $1", dataset)
    await conn.execute("DELETE FROM datasets WHERE id = $1", dataset)
    return rows
