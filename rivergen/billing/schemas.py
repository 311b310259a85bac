"""Response models of billing. Money and usage are ``Decimal``; in JSON they are strings, so
no client parses them into binary floats on the way."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from rivergen.billing.metrics import Metric
from rivergen.billing.plans import PlanName, Prices, Quotas


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class PlanView(_View):
    organization_id: UUID
    name: PlanName
    currency: str
    prices: Prices
    quotas: Quotas


class MetricUsage(_View):
    metric: Metric
    used: Decimal = Field(description="Storage: bytes stored now; others: this period's total.")
    limit: int | None = Field(description="The plan's quota for it; None when it has none.")
    unit: str


class UsageView(_View):
    organization_id: UUID
    plan: PlanName
    period: date = Field(description="First day of the month (UTC).")
    metrics: list[MetricUsage]


class InvoiceLine(_View):
    item: str = Field(description="`base`, `storage_overage` or `compute_overage`.")
    description: str
    used: Decimal | None = Field(None, description="Metered usage, in the metric's own unit.")
    included: Decimal | None = Field(None, description="What the plan includes of it.")
    quantity: Decimal = Field(description="Billed units (months, GiB-months, hours).")
    unit: str
    unit_price: Decimal
    amount: Decimal = Field(description="quantity x unit_price, rounded half up to cents.")


class InvoiceView(_View):
    id: UUID
    organization_id: UUID
    period: date
    plan: PlanName
    currency: str
    lines: list[InvoiceLine]
    total: Decimal = Field(description="Sum of the lines' amounts.")
    created_at: datetime
