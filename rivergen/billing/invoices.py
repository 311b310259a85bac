"""Invoices: one per organization and month, computed from the usage counters and the plan."""

from __future__ import annotations

import json
from datetime import date
from uuid import UUID

import asyncpg

from rivergen.billing import store
from rivergen.billing.periods import as_period
from rivergen.billing.plans import plan_for
from rivergen.billing.pricing import invoice_lines, invoice_total
from rivergen.billing.schemas import InvoiceLine, InvoiceView
from rivergen.db import Database
from rivergen.errors import NotFound


def _view(row: asyncpg.Record) -> InvoiceView:
    return InvoiceView(
        id=row["id"],
        organization_id=row["organization_id"],
        period=row["period"],
        plan=row["plan"],
        currency=row["currency"],
        lines=[InvoiceLine.model_validate(line) for line in json.loads(row["lines"])],
        total=row["total"],
        created_at=row["created_at"],
    )


class InvoiceService:
    """Generates and lists invoices; each call is one system transaction (organization-wide)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def generate(self, organization_id: UUID, period: date) -> InvoiceView:
        """The organization's invoice for the month of ``period``, computed once.

        Idempotent: a second call (or a concurrent one) returns the invoice stored first,
        unchanged, whatever was metered since. Run it after the month has closed and the
        metering consumer has caught up.
        """
        period = as_period(period)
        async with self._db.transaction() as conn:
            existing = await store.invoice_by_period(conn, organization_id, period)
            if existing is not None:
                return _view(existing)
            name = await store.plan_name(conn, organization_id)
            if name is None:
                raise NotFound("organization not found", code="organization_not_found")
            plan = plan_for(name)
            used = await store.organization_usage(conn, organization_id, period)
            lines = invoice_lines(plan, used, period)
            row = await store.insert_invoice(
                conn,
                organization_id,
                period,
                plan.name,
                [line.model_dump(mode="json") for line in lines],
                invoice_total(lines),
                plan.currency,
            )
            if row is None:  # a concurrent call stored it first
                row = await store.invoice_by_period(conn, organization_id, period)
            assert row is not None
            return _view(row)

    async def list_invoices(self, organization_id: UUID) -> list[InvoiceView]:
        """Newest period first."""
        async with self._db.transaction() as conn:
            return [_view(row) for row in await store.invoices_of(conn, organization_id)]
