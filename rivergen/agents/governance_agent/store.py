"""SQL of the Governance agent: column findings and proposals. Every function takes the
connection of a tenant transaction (row-level security applies) and never commits."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from rivergen.pagination import after_cursor
from rivergen.services.governance.detection import ColumnFinding


async def tag_columns(
    conn: asyncpg.Connection,
    dataset: UUID,
    workspace: UUID,
    version: int,
    findings: list[ColumnFinding],
) -> None:
    """Record this scan's findings on the dataset's columns (and its tags ``sensitive`` and
    ``pii:<kind>``); columns it did not find sensitive lose an earlier finding."""
    names = [f.column for f in findings]
    await conn.execute(
        "UPDATE dataset_columns SET sensitive_kind = NULL, sensitive_score = NULL, "
        "scanned_version = $2, scanned_at = now(), "
        "tags = array(SELECT t FROM unnest(tags) t WHERE t <> 'sensitive' "
        "AND t NOT LIKE 'pii:%') WHERE dataset_id = $1 AND NOT (name = ANY($3::text[]))",
        dataset,
        version,
        names,
    )
    for finding in findings:
        new_tags = [f"pii:{finding.kind}", "sensitive"]
        await conn.execute(
            "INSERT INTO dataset_columns (dataset_id, name, workspace_id, tags, sensitive_kind, "
            "sensitive_score, scanned_version, scanned_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, now()) "
            "ON CONFLICT (dataset_id, name) DO UPDATE SET "
            "tags = array(SELECT DISTINCT t FROM unnest(array(SELECT t FROM "
            "unnest(dataset_columns.tags) t WHERE t NOT LIKE 'pii:%') || $4::text[]) t "
            "ORDER BY t), "
            "sensitive_kind = $5, sensitive_score = $6, scanned_version = $7, scanned_at = now()",
            dataset,
            finding.column,
            workspace,
            new_tags,
            finding.kind,
            finding.score,
            version,
        )


async def insert_proposal(
    conn: asyncpg.Connection,
    proposal: UUID,
    workspace: UUID,
    dataset: UUID,
    column: str,
    kind: str,
    policy: dict[str, Any],
    actor: str,
) -> Any:
    """A new pending proposal; None if the column has one pending already, or an admin
    rejected one for the same kind (the answer stands until the kind changes)."""
    return await conn.fetchrow(
        "INSERT INTO governance_proposals (id, workspace_id, dataset_id, column_name, kind, "
        "policy, created_by) SELECT $1::uuid, $2::uuid, $3::uuid, $4::text, $5::text, "
        "$6::jsonb, $7::text WHERE NOT EXISTS ("
        "SELECT 1 FROM governance_proposals WHERE dataset_id = $3 AND column_name = $4 "
        "AND kind = $5 AND state = 'rejected') "
        "ON CONFLICT (dataset_id, column_name) WHERE state = 'pending' DO NOTHING RETURNING *",
        proposal,
        workspace,
        dataset,
        column,
        kind,
        json.dumps(policy),
        actor,
    )


async def get_proposal(conn: asyncpg.Connection, proposal: UUID, *, lock: bool = False) -> Any:
    return await conn.fetchrow(
        "SELECT * FROM governance_proposals WHERE id = $1" + (" FOR UPDATE" if lock else ""),
        proposal,
    )


async def decide(
    conn: asyncpg.Connection,
    proposal: UUID,
    state: str,
    actor: str,
    reason: str,
    policy: UUID | None,
) -> Any:
    """Mark a pending proposal decided; None if it was not pending."""
    return await conn.fetchrow(
        "UPDATE governance_proposals SET state = $2, decided_by = $3, reason = $4, "
        "policy_id = $5, decided_at = now() WHERE id = $1 AND state = 'pending' RETURNING *",
        proposal,
        state,
        actor,
        reason,
        policy,
    )


async def page_proposals(
    conn: asyncpg.Connection,
    state: str | None,
    dataset: UUID | None,
    after: tuple[datetime | None, UUID | None],
    limit: int,
) -> list[Any]:
    rows: list[Any] = await conn.fetch(
        f"SELECT * FROM governance_proposals WHERE {after_cursor(1)} "
        "AND ($3::text IS NULL OR state = $3) AND ($4::uuid IS NULL OR dataset_id = $4) "
        "ORDER BY created_at DESC, id DESC LIMIT $5",
        after[0],
        after[1],
        state,
        dataset,
        limit + 1,
    )
    return rows
