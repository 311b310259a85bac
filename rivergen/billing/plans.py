"""The plan catalogue, as code: what each plan costs, includes and allows.

A plan's quotas are hard limits checked where work starts (:mod:`rivergen.billing.quotas`),
and they are also what the monthly base price includes. Usage can still pass a quota (a job
that ran longer than it was allowed to start with, an upload that was in flight), and what
passes it is billed at the plan's overage prices.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rivergen.errors import NotFound

PlanName = Literal["free", "standard", "premium"]

GIB = 1024**3
TIB = 1024**4
HOUR_S = 3600


class Quota(StrEnum):
    """The limits a plan sets; the values are the field names of :class:`Quotas`."""

    STORAGE_BYTES = "storage_bytes"
    COMPUTE_SECONDS_PER_MONTH = "compute_seconds_per_month"
    REQUESTS_PER_MINUTE = "requests_per_minute"
    CONCURRENT_JOBS = "concurrent_jobs"


class Quotas(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    storage_bytes: int = Field(gt=0, description="Bytes stored at once, over all workspaces.")
    compute_seconds_per_month: int = Field(gt=0, description="Compute seconds a month.")
    requests_per_minute: int = Field(gt=0, description="API requests a minute.")
    concurrent_jobs: int = Field(gt=0, description="Jobs running at once.")

    def limit(self, quota: Quota) -> int:
        value: int = getattr(self, quota.value)
        return value


class Prices(BaseModel):
    """Exact decimal prices in the plan's currency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    monthly_base: Decimal = Field(ge=0, description="Charged every month.")
    storage_per_gib_month: Decimal = Field(
        ge=0, description="Per GiB stored past the quota at the end of the month."
    )
    compute_per_hour: Decimal = Field(ge=0, description="Per compute hour past the quota.")


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: PlanName
    currency: str = "USD"
    prices: Prices
    quotas: Quotas


PLANS: dict[str, Plan] = {
    plan.name: plan
    for plan in (
        Plan(
            name="free",
            # A free organization is never charged: its overage is recorded, not billed.
            prices=Prices(
                monthly_base=Decimal("0.00"),
                storage_per_gib_month=Decimal("0.00"),
                compute_per_hour=Decimal("0.00"),
            ),
            quotas=Quotas(
                storage_bytes=1 * GIB,
                compute_seconds_per_month=3600,
                requests_per_minute=60,
                concurrent_jobs=1,
            ),
        ),
        Plan(
            name="standard",
            prices=Prices(
                monthly_base=Decimal("49.00"),
                storage_per_gib_month=Decimal("0.10"),
                compute_per_hour=Decimal("0.15"),
            ),
            quotas=Quotas(
                storage_bytes=100 * GIB,
                compute_seconds_per_month=100 * HOUR_S,
                requests_per_minute=600,
                concurrent_jobs=4,
            ),
        ),
        Plan(
            name="premium",
            prices=Prices(
                monthly_base=Decimal("499.00"),
                storage_per_gib_month=Decimal("0.05"),
                compute_per_hour=Decimal("0.10"),
            ),
            quotas=Quotas(
                storage_bytes=1 * TIB,
                compute_seconds_per_month=1000 * HOUR_S,
                requests_per_minute=3000,
                concurrent_jobs=16,
            ),
        ),
    )
}


def plan_for(name: str) -> Plan:
    """The plan called ``name``; :class:`NotFound` (``plan_not_found``) if there is none."""
    try:
        return PLANS[name]
    except KeyError:
        raise NotFound(f"no plan named {name!r}", code="plan_not_found") from None
