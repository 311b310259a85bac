"""Quota checks, made where work starts (an upload, a job, a request).

Quotas belong to the organization and count all its workspaces. Storage is what is stored
now (the running sum of every storage delta), compute is this month's seconds; requests a
minute and concurrent jobs are counted by the caller, who passes ``in_use``.

The counters follow the event stream, so a check sees usage as of the last metered event:
work started at the same moment may pass together, and what runs past a quota is billed as
overage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

import asyncpg

from rivergen.billing import store
from rivergen.billing.errors import QuotaExceeded
from rivergen.billing.metrics import Metric
from rivergen.billing.periods import current_period
from rivergen.billing.plans import Plan, Quota, plan_for
from rivergen.db import Database
from rivergen.errors import NotFound

# The quotas the platform counts from its usage counters; the others are counted by callers.
_METERED: dict[Quota, Metric] = {
    Quota.STORAGE_BYTES: Metric.STORAGE_BYTES,
    Quota.COMPUTE_SECONDS_PER_MONTH: Metric.COMPUTE_SECONDS,
}


async def plan_of_workspace(conn: asyncpg.Connection, workspace_id: UUID) -> tuple[UUID, Plan]:
    """The workspace's organization and its plan; ``workspace_not_found`` if it has none."""
    found = await store.workspace_plan(conn, workspace_id)
    if found is None:
        raise NotFound("workspace not found", code="workspace_not_found")
    org, name = found
    return org, plan_for(name)


@dataclass(frozen=True)
class QuotaAsk:
    """One quota to check: ``amount`` more on top of ``in_use`` (None: the counters')."""

    quota: Quota
    amount: int | Decimal
    in_use: int | Decimal | None = None


class QuotaService:
    """Checks the plan's quotas; opens its own system transaction unless given a connection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def check(
        self,
        conn_or_db: asyncpg.Connection | Database | None,
        workspace_id: UUID,
        quota: Quota | str,
        amount: int | Decimal,
        *,
        in_use: int | Decimal | None = None,
        period: date | None = None,
    ) -> None:
        """Pass if ``in_use + amount`` stays within the quota, else raise :class:`QuotaExceeded`.

        ``conn_or_db``: a connection runs the check in the caller's transaction (a tenant one
        of this workspace works); a :class:`Database` or None opens a short transaction.
        ``in_use`` is required for requests a minute and concurrent jobs, and overrides the
        counters for the metered quotas.
        """
        ask = QuotaAsk(quota=Quota(quota), amount=amount, in_use=in_use)
        await self.check_all(conn_or_db, workspace_id, [ask], period=period)

    async def check_all(
        self,
        conn_or_db: asyncpg.Connection | Database | None,
        workspace_id: UUID,
        asks: Sequence[QuotaAsk],
        *,
        period: date | None = None,
    ) -> None:
        """:meth:`check` for each of ``asks`` (the first exceeded raises), the plan and the
        counters read once."""
        if isinstance(conn_or_db, asyncpg.Connection):
            await self._check(conn_or_db, workspace_id, asks, period)
            return
        async with (conn_or_db or self._db).transaction() as conn:
            await self._check(conn, workspace_id, asks, period)

    async def _check(
        self,
        conn: asyncpg.Connection,
        workspace_id: UUID,
        asks: Sequence[QuotaAsk],
        period: date | None,
    ) -> None:
        org, plan = await plan_of_workspace(conn, workspace_id)
        usage: dict[Metric, Decimal] | None = None
        for ask in asks:
            quota, amount = ask.quota, Decimal(ask.amount)
            if ask.in_use is None:
                metric = _METERED.get(quota)
                if metric is None:
                    raise ValueError(f"quota {quota.value} needs in_use (the caller counts it)")
                if usage is None:
                    usage = await store.organization_usage(conn, org, period or current_period())
                used = usage[metric]
            else:
                used = Decimal(ask.in_use)
            limit = plan.quotas.limit(quota)
            if used + amount > limit:
                raise QuotaExceeded(
                    f"{quota.value} quota of the {plan.name} plan exceeded: "
                    f"{used} used + {amount} requested > {limit}",
                    details={
                        "quota": quota.value,
                        "plan": plan.name,
                        "organization_id": str(org),
                        "limit": limit,
                        "used": str(used),
                        "requested": str(amount),
                    },
                )
