"""Quotas against metered usage, and invoices stored once, on the real Postgres (through
PgBouncer). Usage is metered by the real :class:`UsageMeter` in tenant transactions, as the
metering consumer runs it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from rivergen.billing import (
    USAGE_COMPUTE_USED,
    USAGE_REQUEST,
    USAGE_STORAGE_CHANGED,
    BillingService,
    InvoiceService,
    Metric,
    Quota,
    QuotaExceeded,
    QuotaService,
    UsageMeter,
    current_period,
)
from rivergen.billing.plans import GIB, HOUR_S
from rivergen.db import Database
from rivergen.events import Event

pytestmark = pytest.mark.integration

NewOrg = Callable[[str, int], Awaitable["Org"]]


@dataclass
class Org:
    id: uuid.UUID
    workspaces: list[uuid.UUID]


@pytest.fixture
async def new_org(db: Database) -> AsyncIterator[NewOrg]:
    """Makes organizations with workspaces; removes them and their billing rows after."""
    made: list[Org] = []

    async def make(plan: str, workspaces: int = 1) -> Org:
        run = uuid.uuid4().hex[:8]
        async with db.transaction() as conn:
            org = await conn.fetchval(
                "INSERT INTO organizations (name, plan) VALUES ($1, $2) RETURNING id",
                f"billing-test-{run}",
                plan,
            )
            ids = [
                await conn.fetchval(
                    "INSERT INTO workspaces (name, organization_id) VALUES ($1, $2) RETURNING id",
                    f"billing-test-{run}-{i}",
                    org,
                )
                for i in range(workspaces)
            ]
        made.append(Org(org, ids))
        return made[-1]

    yield make
    async with db.transaction() as conn:
        for org in made:
            await conn.execute("DELETE FROM invoices WHERE organization_id = $1", org.id)
            await conn.execute("DELETE FROM workspaces WHERE organization_id = $1", org.id)
            await conn.execute("DELETE FROM organizations WHERE id = $1", org.id)


async def meter(
    db: Database, workspace: uuid.UUID, type_: str, data: dict[str, Any], at: datetime | None = None
) -> None:
    event = Event(
        type=type_, workspace_id=workspace, data=data, occurred_at=at or datetime.now(UTC)
    )
    async with db.transaction(str(workspace)) as conn:
        await UsageMeter()(conn, event)


async def test_storage_quota_counts_every_month_and_workspace_of_the_organization(
    db: Database, new_org: NewOrg
) -> None:
    org = await new_org("free", 2)
    first, second = org.workspaces
    last_year = datetime(2024, 6, 1, tzinfo=UTC)
    await meter(db, first, USAGE_STORAGE_CHANGED, {"bytes_delta": GIB // 2}, last_year)
    await meter(db, second, USAGE_STORAGE_CHANGED, {"bytes_delta": GIB // 4})
    await meter(db, second, USAGE_STORAGE_CHANGED, {"bytes_delta": -(GIB // 8)})
    used = GIB // 2 + GIB // 4 - GIB // 8
    quotas = QuotaService(db)

    await quotas.check(db, first, Quota.STORAGE_BYTES, GIB - used)  # exactly at the limit
    with pytest.raises(QuotaExceeded) as caught:
        await quotas.check(None, second, "storage_bytes", GIB - used + 1)
    error = caught.value
    assert (error.status, error.error_code) == (403, "quota_exceeded")
    assert error.details == {
        "quota": "storage_bytes",
        "plan": "free",
        "organization_id": str(org.id),
        "limit": GIB,
        "used": str(used),
        "requested": str(GIB - used + 1),
    }
    # Another organization's usage counts for it, not for this one.
    other = await new_org("free", 1)
    await meter(db, other.workspaces[0], USAGE_STORAGE_CHANGED, {"bytes_delta": GIB})
    await quotas.check(db, first, Quota.STORAGE_BYTES, GIB - used)


async def test_compute_quota_counts_this_month_only(db: Database, new_org: NewOrg) -> None:
    org = await new_org("free", 1)
    workspace = org.workspaces[0]
    await meter(
        db, workspace, USAGE_COMPUTE_USED, {"seconds": 3000}, datetime(2024, 1, 9, tzinfo=UTC)
    )
    for seconds in (0.1, 0.2, 2999.7):  # 3000.0 exactly this month
        await meter(db, workspace, USAGE_COMPUTE_USED, {"seconds": seconds})
    quotas = QuotaService(db)
    await quotas.check(db, workspace, Quota.COMPUTE_SECONDS_PER_MONTH, 600)
    with pytest.raises(QuotaExceeded) as caught:
        await quotas.check(db, workspace, Quota.COMPUTE_SECONDS_PER_MONTH, Decimal("600.1"))
    assert caught.value.details["used"] == "3000.0"
    assert caught.value.details["limit"] == 3600


async def test_a_tenant_transaction_checks_the_organization_but_writes_only_its_workspace(
    db: Database, new_org: NewOrg
) -> None:
    org = await new_org("standard", 2)
    first, second = org.workspaces
    await meter(db, second, USAGE_STORAGE_CHANGED, {"bytes_delta": 100 * GIB})
    quotas = QuotaService(db)
    async with db.transaction(str(first)) as conn:
        with pytest.raises(QuotaExceeded):
            await quotas.check(conn, first, Quota.STORAGE_BYTES, 1)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with db.transaction(str(first)) as conn:
            await conn.execute(
                "UPDATE usage_counters SET quantity = 0 WHERE workspace_id = $1", second
            )
            # RLS hides the row from UPDATE (0 rows); a direct insert is refused outright.
            await conn.execute(
                "INSERT INTO usage_counters (organization_id, workspace_id, metric, period) "
                "VALUES ($1, $2, 'storage_bytes', $3)",
                org.id,
                second,
                current_period(),
            )
    assert (await BillingService(db).usage(first)).metrics[0].used == 100 * GIB


async def test_concurrent_jobs_and_request_rates_are_counted_by_the_caller(
    db: Database, new_org: NewOrg
) -> None:
    workspace = (await new_org("standard", 1)).workspaces[0]
    quotas = QuotaService(db)
    await quotas.check(db, workspace, Quota.CONCURRENT_JOBS, 1, in_use=3)
    with pytest.raises(QuotaExceeded) as caught:
        await quotas.check(db, workspace, Quota.CONCURRENT_JOBS, 1, in_use=4)
    assert caught.value.details["limit"] == 4
    with pytest.raises(QuotaExceeded):
        await quotas.check(db, workspace, Quota.REQUESTS_PER_MINUTE, 1, in_use=600)
    with pytest.raises(ValueError, match="in_use"):
        await quotas.check(db, workspace, Quota.CONCURRENT_JOBS, 1)


async def test_an_invoice_is_computed_from_the_counters_and_stored_once(
    db: Database, new_org: NewOrg
) -> None:
    org = await new_org("standard", 2)
    first, second = org.workspaces
    january, february = datetime(2025, 1, 15, tzinfo=UTC), datetime(2025, 2, 10, tzinfo=UTC)
    # Storage at the end of February: 60 GiB from January + 52.5 GiB in February = 112.5 GiB.
    await meter(db, first, USAGE_STORAGE_CHANGED, {"bytes_delta": 60 * GIB}, january)
    await meter(db, second, USAGE_STORAGE_CHANGED, {"bytes_delta": 52 * GIB + GIB // 2}, february)
    # Compute in February: 100 h + 1200.3 s; January's hour does not count.
    await meter(db, first, USAGE_COMPUTE_USED, {"seconds": HOUR_S}, january)
    await meter(db, first, USAGE_COMPUTE_USED, {"seconds": 100 * HOUR_S}, february)
    for seconds in (0.1, 0.2, 1200):
        await meter(db, second, USAGE_COMPUTE_USED, {"seconds": seconds}, february)
    await meter(db, second, USAGE_REQUEST, {"count": 42}, february)
    invoices = InvoiceService(db)

    invoice = await invoices.generate(org.id, date(2025, 2, 17))
    assert invoice.period == date(2025, 2, 1) and invoice.plan == "standard"
    lines = {line.item: line for line in invoice.lines}
    assert lines["base"].amount == Decimal("49.00")
    assert (lines["storage_overage"].quantity, lines["storage_overage"].amount) == (
        Decimal("12.5"),
        Decimal("1.25"),
    )
    # 1200.3 s = 0.33341666... h at 0.15: 0.0500125, rounds to 0.05.
    assert lines["compute_overage"].used == Decimal(100 * HOUR_S) + Decimal("1200.3")
    assert lines["compute_overage"].amount == Decimal("0.05")
    assert invoice.total == Decimal("50.30")
    assert json.loads(invoice.model_dump_json())["total"] == "50.30"

    # Usage metered later does not change a stored invoice; racing generators store one.
    await meter(db, first, USAGE_COMPUTE_USED, {"seconds": 10 * HOUR_S}, february)
    again = await asyncio.gather(*(invoices.generate(org.id, february.date()) for _ in range(4)))
    assert {i.id for i in again} == {invoice.id}
    assert all(i == invoice for i in again)
    january_invoice = await invoices.generate(org.id, date(2025, 1, 1))
    assert january_invoice.total == Decimal("49.00")
    listed = await BillingService(db).list_invoices(second)
    assert [i.id for i in listed] == [invoice.id, january_invoice.id]
    async with db.transaction() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM invoices WHERE organization_id = $1", org.id
        )
    assert stored == 2


async def test_plan_and_usage_views_for_the_routes(db: Database, new_org: NewOrg) -> None:
    workspace = (await new_org("premium", 1)).workspaces[0]
    await meter(db, workspace, USAGE_COMPUTE_USED, {"seconds": 0.1})
    await meter(db, workspace, USAGE_COMPUTE_USED, {"seconds": 0.2})
    await meter(db, workspace, USAGE_REQUEST, {"count": 5})
    billing = BillingService(db)
    plan = await billing.plan(workspace)
    assert plan.name == "premium" and plan.quotas.concurrent_jobs == 16
    assert json.loads(plan.model_dump_json())["prices"]["monthly_base"] == "499.00"
    usage = await billing.usage(workspace)
    by_metric = {m.metric: m for m in usage.metrics}
    assert usage.period == current_period()
    assert by_metric[Metric.COMPUTE_SECONDS].used == Decimal("0.3")
    assert by_metric[Metric.COMPUTE_SECONDS].limit == 1000 * HOUR_S
    assert by_metric[Metric.REQUESTS].used == 5 and by_metric[Metric.REQUESTS].limit is None
    assert by_metric[Metric.STORAGE_BYTES].used == 0
