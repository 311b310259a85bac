"""SQL of billing. Every function takes the connection; none commits (the service owns the
transaction).

Reads that sum an organization work in a system transaction (``db.transaction()``) and in a
tenant one of any of the organization's workspaces (policy ``usage_counters_organization_read``).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from rivergen.billing.metrics import Metric


async def organization_of(conn: asyncpg.Connection, workspace_id: UUID) -> UUID | None:
    org: UUID | None = await conn.fetchval(
        "SELECT organization_id FROM workspaces WHERE id = $1", workspace_id
    )
    return org


async def workspace_plan(conn: asyncpg.Connection, workspace_id: UUID) -> tuple[UUID, str] | None:
    """The workspace's organization and the name of its plan, in one query."""
    row = await conn.fetchrow(
        "SELECT w.organization_id, o.plan FROM workspaces w "
        "JOIN organizations o ON o.id = w.organization_id WHERE w.id = $1",
        workspace_id,
    )
    return (row["organization_id"], row["plan"]) if row is not None else None


async def plan_name(conn: asyncpg.Connection, organization_id: UUID) -> str | None:
    name: str | None = await conn.fetchval(
        "SELECT plan FROM organizations WHERE id = $1", organization_id
    )
    return name


async def add_usage(
    conn: asyncpg.Connection,
    organization_id: UUID,
    workspace_id: UUID,
    metric: Metric,
    period: date,
    quantity: Decimal,
) -> None:
    await conn.execute(
        "INSERT INTO usage_counters (organization_id, workspace_id, metric, period, quantity) "
        "VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (workspace_id, metric, period) "
        "DO UPDATE SET quantity = usage_counters.quantity + EXCLUDED.quantity",
        organization_id,
        workspace_id,
        metric.value,
        period,
        quantity,
    )


async def organization_usage(
    conn: asyncpg.Connection, organization_id: UUID, period: date
) -> dict[Metric, Decimal]:
    """Each metric of the organization for ``period``; storage is what is stored at the end
    of it (the running sum of every month's net change up to it)."""
    rows = await conn.fetch(
        "SELECT metric, sum(quantity) AS quantity FROM usage_counters "
        "WHERE organization_id = $1 AND (period = $2 OR (metric = $3 AND period < $2)) "
        "GROUP BY metric",
        organization_id,
        period,
        Metric.STORAGE_BYTES.value,
    )
    used = dict.fromkeys(Metric, Decimal(0))
    for row in rows:
        used[Metric(row["metric"])] = Decimal(row["quantity"])
    return used


async def invoice_by_period(
    conn: asyncpg.Connection, organization_id: UUID, period: date
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_INVOICE_COLUMNS} FROM invoices WHERE organization_id = $1 AND period = $2",
        organization_id,
        period,
    )
    return row


async def insert_invoice(
    conn: asyncpg.Connection,
    organization_id: UUID,
    period: date,
    plan: str,
    lines: list[dict[str, Any]],
    total: Decimal,
    currency: str,
) -> asyncpg.Record | None:
    """The new invoice, or None when the organization already has one for ``period``."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "INSERT INTO invoices (organization_id, period, plan, lines, total, currency) "
        "VALUES ($1, $2, $3, $4::jsonb, $5, $6) "
        f"ON CONFLICT (organization_id, period) DO NOTHING RETURNING {_INVOICE_COLUMNS}",
        organization_id,
        period,
        plan,
        json.dumps(lines),
        total,
        currency,
    )
    return row


async def invoices_of(conn: asyncpg.Connection, organization_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {_INVOICE_COLUMNS} FROM invoices WHERE organization_id = $1 ORDER BY period DESC",
        organization_id,
    )
    return rows


_INVOICE_COLUMNS = (
    "id, organization_id, period, plan, lines::text AS lines, total, currency, created_at"
)
