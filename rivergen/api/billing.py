"""Routes of billing: the workspace's plan, its usage this period, its invoices."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from rivergen.api.accounts import ERRORS
from rivergen.api.security import Context, authorize
from rivergen.billing import BillingService, InvoiceView, PlanView, UsageView

router = APIRouter(
    prefix="/api/v1/billing", dependencies=[Depends(authorize)], responses=ERRORS, tags=["billing"]
)


def _billing(request: Request) -> BillingService:
    service: BillingService = request.app.state.billing
    return service


Billing = Annotated[BillingService, Depends(_billing)]


@router.get("/plan")
async def plan(context: Context, billing: Billing) -> PlanView:
    """The plan of the workspace's organization: prices and quotas."""
    return await billing.plan(context.require_workspace())


@router.get("/usage")
async def usage(
    context: Context,
    billing: Billing,
    period: Annotated[date | None, Query(description="Any day of the month; default now.")] = None,
) -> UsageView:
    """Metered usage of the month against the plan's quotas."""
    return await billing.usage(context.require_workspace(), period)


@router.get("/invoices")
async def invoices(context: Context, billing: Billing) -> list[InvoiceView]:
    return await billing.list_invoices(context.require_workspace())
