"""SQL of policies. Every function takes the connection of a tenant transaction (row-level
security applies) and never commits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from rivergen.pagination import after_cursor


async def insert(
    conn: asyncpg.Connection, policy: UUID, workspace: UUID, fields: dict[str, Any], actor: str
) -> Any:
    return await conn.fetchrow(
        "INSERT INTO policies (id, workspace_id, name, description, dataset_id, rule, roles, "
        "priority, enabled, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "RETURNING *",
        policy,
        workspace,
        fields["name"],
        fields["description"],
        fields["dataset_id"],
        json.dumps(fields["rule"]),
        fields["roles"],
        fields["priority"],
        fields["enabled"],
        actor,
    )


async def get(conn: asyncpg.Connection, policy: UUID, *, lock: bool = False) -> Any:
    return await conn.fetchrow(
        "SELECT * FROM policies WHERE id = $1" + (" FOR UPDATE" if lock else ""), policy
    )


async def update(conn: asyncpg.Connection, policy: UUID, fields: dict[str, Any]) -> Any:
    """Set every stored field from ``fields`` (a whole PolicyCreate's)."""
    return await conn.fetchrow(
        "UPDATE policies SET name = $2, description = $3, dataset_id = $4, rule = $5, "
        "roles = $6, priority = $7, enabled = $8, updated_at = now() WHERE id = $1 RETURNING *",
        policy,
        fields["name"],
        fields["description"],
        fields["dataset_id"],
        json.dumps(fields["rule"]),
        fields["roles"],
        fields["priority"],
        fields["enabled"],
    )


async def delete(conn: asyncpg.Connection, policy: UUID) -> bool:
    deleted = await conn.fetchval("DELETE FROM policies WHERE id = $1 RETURNING id", policy)
    return deleted is not None


async def page(
    conn: asyncpg.Connection,
    dataset: UUID | None,
    after: tuple[datetime | None, UUID | None],
    limit: int,
) -> list[Any]:
    rows: list[Any] = await conn.fetch(
        f"SELECT * FROM policies WHERE {after_cursor(1)} "
        "AND ($3::uuid IS NULL OR dataset_id = $3) ORDER BY created_at DESC, id DESC LIMIT $4",
        after[0],
        after[1],
        dataset,
        limit + 1,
    )
    return rows


async def for_datasets(conn: asyncpg.Connection, datasets: Sequence[UUID]) -> list[Any]:
    """The enabled policies that may govern any of ``datasets`` (theirs and workspace-wide)."""
    rows: list[Any] = await conn.fetch(
        "SELECT * FROM policies WHERE enabled AND (dataset_id IS NULL OR dataset_id = ANY($1))",
        list(datasets),
    )
    return rows


async def enabled(conn: asyncpg.Connection) -> list[Any]:
    """Every enabled policy of the workspace."""
    rows: list[Any] = await conn.fetch("SELECT * FROM policies WHERE enabled")
    return rows


async def current_columns(conn: asyncpg.Connection, dataset: UUID) -> dict[str, str] | None:
    """The current version's columns (name -> Arrow type); None if there is no such dataset
    (an empty mapping before its first version)."""
    row = await conn.fetchrow(
        "SELECT v.columns FROM datasets d LEFT JOIN dataset_versions v "
        "ON v.dataset_id = d.id AND v.version = d.current_version WHERE d.id = $1",
        dataset,
    )
    if row is None:
        return None
    columns = json.loads(row["columns"]) if row["columns"] else []
    return {c["name"]: c["type"] for c in columns}


_JOB_INPUTS = (
    "SELECT made.target_id AS result, used.source_id AS input, j.id AS job, j.governance, "
    "j.column_lineage "
    "FROM lineage_edges made JOIN lineage_edges used ON used.target_kind = 'job' "
    "AND used.target_id = made.source_id AND used.source_kind = 'dataset' "
    "JOIN jobs j ON j.id = made.source_id "
    "WHERE made.source_kind = 'job' AND made.target_kind = 'dataset' "
    "AND made.target_id = ANY($1)"
)


async def job_inputs(conn: asyncpg.Connection, datasets: Sequence[UUID]) -> list[Any]:
    """For those of ``datasets`` that are job results: (result, input dataset, the governance
    the job pinned for its submitter), from the lineage dataset -> job -> dataset."""
    rows: list[Any] = await conn.fetch(_JOB_INPUTS, list(datasets))
    return rows


# What a dataset was imported from: a file or a data source (its lineage edge, recorded with
# each version; the version's ``source`` says the same).
_IMPORTED = (
    "{e}.target_kind = 'dataset' AND {e}.relation = 'imported_from' "
    "AND {e}.source_kind IN ('file', 'data_source')"
)

# Each import (dataset, kind, source) with the key of its data: the one its version recorded,
# else the live file's content hash or data source's config key. Two imports are of the same
# data when they name one source, or their keys are equal (a re-upload of the same bytes, a
# source registered again with the same config, even once the first is deleted).
_IMPORTS = (
    "imports AS (SELECT e.target_id AS dataset, e.source_kind AS kind, e.source_id AS source, "
    "coalesce(v.source->>'key', 'file:' || f.sha256, ds.source_key) AS key "
    "FROM lineage_edges e "
    "LEFT JOIN dataset_versions v ON v.dataset_id = e.target_id AND v.version = e.target_version "
    "LEFT JOIN files f ON e.source_kind = 'file' AND f.id = e.source_id "
    "LEFT JOIN data_sources ds ON e.source_kind = 'data_source' AND ds.id = e.source_id "
    f"WHERE {_IMPORTED.format(e='e')})"
)
_SAME = "((b.kind = a.kind AND b.source = a.source) OR b.key = a.key)"


async def made_from(
    conn: asyncpg.Connection, kind: str, source: UUID, key: str | None = None
) -> list[UUID]:
    """The datasets a version of which was imported from that file or data source, or from
    any other of the same ``key`` (see :data:`_IMPORTS`)."""
    rows = await conn.fetch(
        f"WITH {_IMPORTS} SELECT DISTINCT dataset FROM imports "
        "WHERE (kind = $1 AND source = $2) OR key = $3",
        kind,
        source,
        key,
    )
    return [r["dataset"] for r in rows]


async def same_source(conn: asyncpg.Connection, datasets: Sequence[UUID]) -> list[Any]:
    """(dataset, sibling) for each of ``datasets`` and each other dataset a version of which
    was imported from a file or data source that one of its versions was imported from, or
    from another of the same key."""
    rows: list[Any] = await conn.fetch(
        f"WITH {_IMPORTS} SELECT DISTINCT a.dataset, b.dataset AS sibling "
        f"FROM imports a JOIN imports b ON {_SAME} AND b.dataset <> a.dataset "
        "WHERE a.dataset = ANY($1)",
        list(datasets),
    )
    return rows


async def picture(
    conn: asyncpg.Connection, datasets: Sequence[UUID]
) -> tuple[list[Any], list[Any], list[Any]]:
    """In one statement (one round trip, not three): :func:`job_inputs` of ``datasets``,
    :func:`same_source` of them, and :func:`for_datasets` of them and those siblings (each
    policy row as a mapping, ``rule`` decoded)."""
    rows = await conn.fetch(
        f"WITH {_IMPORTS}, "
        "sib AS (SELECT DISTINCT a.dataset, b.dataset AS sibling "
        f"FROM imports a JOIN imports b ON {_SAME} AND b.dataset <> a.dataset "
        "WHERE a.dataset = ANY($1)), "
        f"inp AS ({_JOB_INPUTS}) "
        "SELECT 'input' AS part, result, input, job, governance, column_lineage, "
        "NULL::uuid AS dataset, NULL::uuid AS sibling, NULL::text AS policy FROM inp "
        "UNION ALL SELECT 'sibling', NULL, NULL, NULL, NULL, NULL, dataset, sibling, NULL "
        "FROM sib "
        "UNION ALL SELECT 'policy', NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
        "row_to_json(p)::text FROM policies p WHERE enabled AND (dataset_id IS NULL "
        "OR dataset_id = ANY($1) OR dataset_id IN (SELECT sibling FROM sib))",
        list(datasets),
    )
    inputs = [r for r in rows if r["part"] == "input"]
    siblings = [r for r in rows if r["part"] == "sibling"]
    policies = [json.loads(r["policy"]) for r in rows if r["part"] == "policy"]
    return inputs, siblings, policies


async def version_columns(
    conn: asyncpg.Connection, datasets: Sequence[UUID]
) -> dict[UUID, set[str]]:
    """For each of ``datasets``: the column names every one of its versions has."""
    rows = await conn.fetch(
        "SELECT dataset_id, columns FROM dataset_versions WHERE dataset_id = ANY($1)",
        list(datasets),
    )
    found: dict[UUID, set[str]] = {}
    for row in rows:
        names = {c["name"] for c in json.loads(row["columns"])}
        dataset = row["dataset_id"]
        found[dataset] = found[dataset] & names if dataset in found else names
    return found
