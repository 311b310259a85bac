"""What the billing routes call: the plan, the usage and the invoices of a workspace's
organization. Each call is one short transaction."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from rivergen.billing import store
from rivergen.billing.invoices import InvoiceService
from rivergen.billing.metrics import Metric
from rivergen.billing.periods import as_period, current_period
from rivergen.billing.plans import Quota
from rivergen.billing.quotas import QuotaService, plan_of_workspace
from rivergen.billing.schemas import InvoiceView, MetricUsage, PlanView, UsageView
from rivergen.db import Database

# Each counter, the quota it counts against (if it has one), and its unit.
_METRIC_LIMITS: tuple[tuple[Metric, Quota | None, str], ...] = (
    (Metric.STORAGE_BYTES, Quota.STORAGE_BYTES, "bytes"),
    (Metric.COMPUTE_SECONDS, Quota.COMPUTE_SECONDS_PER_MONTH, "seconds"),
    (Metric.REQUESTS, None, "requests"),
)


class BillingService:
    """Plan, usage and invoices as the API shows them, and the quota checks."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.quotas = QuotaService(db)
        self.invoices = InvoiceService(db)

    async def plan(self, workspace_id: UUID) -> PlanView:
        async with self._db.transaction(str(workspace_id)) as conn:
            org, plan = await plan_of_workspace(conn, workspace_id)
        return PlanView(
            organization_id=org,
            name=plan.name,
            currency=plan.currency,
            prices=plan.prices,
            quotas=plan.quotas,
        )

    async def usage(self, workspace_id: UUID, period: date | None = None) -> UsageView:
        """The organization's usage in ``period`` (default: this month) against its quotas."""
        period = as_period(period) if period is not None else current_period()
        async with self._db.transaction(str(workspace_id)) as conn:
            org, plan = await plan_of_workspace(conn, workspace_id)
            used = await store.organization_usage(conn, org, period)
        return UsageView(
            organization_id=org,
            plan=plan.name,
            period=period,
            metrics=[
                MetricUsage(
                    metric=metric,
                    used=used[metric],
                    limit=plan.quotas.limit(quota) if quota is not None else None,
                    unit=unit,
                )
                for metric, quota, unit in _METRIC_LIMITS
            ],
        )

    async def list_invoices(self, workspace_id: UUID) -> list[InvoiceView]:
        """The invoices of the workspace's organization, newest first."""
        async with self._db.transaction(str(workspace_id)) as conn:
            org, _ = await plan_of_workspace(conn, workspace_id)
        return await self.invoices.list_invoices(org)
