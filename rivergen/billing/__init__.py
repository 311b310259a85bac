"""Billing: plans and quotas, usage metered from events, invoices in exact decimals.

- :mod:`~rivergen.billing.plans`: the catalogue (:func:`plan_for`, :class:`Quota`).
- :class:`UsageMeter` / :class:`MeteringService`: usage counters from the usage events
  (:data:`USAGE_STORAGE_CHANGED`, :data:`USAGE_COMPUTE_USED`, :data:`USAGE_REQUEST`), once per
  event however often Kafka delivers it.
- :class:`QuotaService`: checks made where work starts; raises :class:`QuotaExceeded`.
- :class:`InvoiceService`: one invoice per organization and month, stored once.
- :class:`BillingService`: what the `/api/v1/billing/*` routes call.

Quotas and plans are per organization (all its workspaces count together). The counters lag
the event stream: two starts at the same moment may both pass a check, and usage past a quota
is billed as overage rather than lost.
"""

from rivergen.billing.errors import QuotaExceeded
from rivergen.billing.invoices import InvoiceService
from rivergen.billing.metering import METERING_GROUP, MeteringService, UsageMeter, run_metering
from rivergen.billing.metrics import (
    METERED_TOPICS,
    USAGE_COMPUTE_USED,
    USAGE_REQUEST,
    USAGE_STORAGE_CHANGED,
    USAGE_TOPICS,
    Metric,
)
from rivergen.billing.periods import current_period, period_of
from rivergen.billing.plans import PLANS, Plan, Prices, Quota, Quotas, plan_for
from rivergen.billing.quotas import QuotaAsk, QuotaService
from rivergen.billing.schemas import InvoiceLine, InvoiceView, MetricUsage, PlanView, UsageView
from rivergen.billing.service import BillingService

__all__ = [
    "METERED_TOPICS",
    "METERING_GROUP",
    "PLANS",
    "USAGE_COMPUTE_USED",
    "USAGE_REQUEST",
    "USAGE_STORAGE_CHANGED",
    "USAGE_TOPICS",
    "BillingService",
    "InvoiceLine",
    "InvoiceService",
    "InvoiceView",
    "MeteringService",
    "Metric",
    "MetricUsage",
    "Plan",
    "PlanView",
    "Prices",
    "Quota",
    "QuotaAsk",
    "QuotaExceeded",
    "QuotaService",
    "Quotas",
    "UsageMeter",
    "UsageView",
    "current_period",
    "period_of",
    "plan_for",
    "run_metering",
]
