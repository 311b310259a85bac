"""SQL of monitoring reports. Every function takes the connection of a tenant transaction (row-
level security applies) and never commits."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from rivergen.pagination import after_cursor
from rivergen.services.monitoring.schemas import MonitoringReport


async def insert(
    conn: asyncpg.Connection,
    workspace: UUID,
    report: MonitoringReport,
    governance: dict[str, Any],
) -> None:
    """Keep ``report`` with the governance its creator read its datasets under."""
    performance = report.performance
    assert report.drift is not None
    await conn.execute(
        "INSERT INTO model_monitoring_reports (id, workspace_id, model_id, model_version, "
        "dataset_id, dataset_version, reference_dataset_id, reference_version, drifted, "
        "performance_degraded, report, created_by, created_at, governance) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14::jsonb)",
        report.id,
        workspace,
        report.model_id,
        report.model_version,
        report.dataset_id,
        report.dataset_version,
        report.reference_dataset_id,
        report.reference_version,
        report.drift.drifted,
        None if performance is None else performance.degraded,
        report.model_dump_json(),
        report.created_by,
        report.created_at,
        json.dumps(governance),
    )


async def page(
    conn: asyncpg.Connection, model: UUID, after: tuple[datetime | None, UUID | None], limit: int
) -> list[Any]:
    """Newest first; one row more than ``limit`` when there is a next page."""
    rows: list[Any] = await conn.fetch(
        "SELECT id, created_at, report, governance FROM model_monitoring_reports "
        f"WHERE {after_cursor(1)} AND model_id = $3 ORDER BY created_at DESC, id DESC LIMIT $4",
        after[0],
        after[1],
        model,
        limit + 1,
    )
    return rows
