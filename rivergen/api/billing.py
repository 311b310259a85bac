"""Routes of billing: the workspace's plan, its usage this period, its invoices."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from rivergen.api.accounts import ERRORS
from rivergen.api.security import Context, Core, authorize
from rivergen.billing import InvoiceView, PlanView, UsageView

router = APIRouter(
    prefix="/api/v1/billing", dependencies=[Depends(authorize)], responses=ERRORS, tags=["billing"]
)


@router.get("/plan")
async def plan(context: Context, core: Core) -> PlanView:
    """The plan of the workspace's organization: prices and quotas."""
    return await core.billing_plan(context.require_workspace())


@router.get("/usage")
async def usage(
    context: Context,
    core: Core,
    period: Annotated[date | None, Query(description="Any day of the month; default now.")] = None,
) -> UsageView:
    """Metered usage of the month against the plan's quotas."""
    return await core.billing_usage(context.require_workspace(), period)


@router.get("/invoices")
async def invoices(context: Context, core: Core) -> list[InvoiceView]:
    return await core.billing_invoices(context.require_workspace())
