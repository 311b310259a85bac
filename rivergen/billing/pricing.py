"""Invoice arithmetic, in exact decimals: no float ever touches an amount.

Each line's amount is rounded half up to cents on its own, and the total is the sum of the
rounded lines, so an invoice always adds up as printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal

from rivergen.billing.metrics import Metric
from rivergen.billing.plans import GIB, HOUR_S, Plan
from rivergen.billing.schemas import InvoiceLine

CENT = Decimal("0.01")
# Divisions (bytes to GiB, seconds to hours) keep 50 digits: far more than any amount needs,
# so only the final rounding to cents is ever visible.
_EXACT = Context(prec=50)
# Billed quantities are shown to a millionth of a unit; amounts use the unrounded quantity.
_QUANTITY = Decimal("0.000001")


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def invoice_lines(plan: Plan, used: Mapping[Metric, Decimal], period: date) -> list[InvoiceLine]:
    """The base price and the overage of storage and compute for one month of usage."""
    prices, quotas = plan.prices, plan.quotas
    lines = [
        InvoiceLine(
            item="base",
            description=f"{plan.name} plan, {period:%Y-%m}",
            quantity=Decimal(1),
            unit="month",
            unit_price=prices.monthly_base,
            amount=to_cents(prices.monthly_base),
        )
    ]
    lines.append(
        _overage(
            "storage_overage",
            "storage past the plan's quota at the end of the month",
            used=used.get(Metric.STORAGE_BYTES, Decimal(0)),
            included=Decimal(quotas.storage_bytes),
            per_unit=Decimal(GIB),
            unit="GiB-month",
            unit_price=prices.storage_per_gib_month,
        )
    )
    lines.append(
        _overage(
            "compute_overage",
            "compute past the plan's monthly quota",
            used=used.get(Metric.COMPUTE_SECONDS, Decimal(0)),
            included=Decimal(quotas.compute_seconds_per_month),
            per_unit=Decimal(HOUR_S),
            unit="hour",
            unit_price=prices.compute_per_hour,
        )
    )
    return lines


def _overage(
    item: str,
    description: str,
    *,
    used: Decimal,
    included: Decimal,
    per_unit: Decimal,
    unit: str,
    unit_price: Decimal,
) -> InvoiceLine:
    over = max(Decimal(0), used - included)
    units = _EXACT.divide(over, per_unit)
    return InvoiceLine(
        item=item,
        description=description,
        used=used,
        included=included,
        quantity=units.quantize(_QUANTITY, rounding=ROUND_HALF_UP),
        unit=unit,
        unit_price=unit_price,
        amount=to_cents(_EXACT.multiply(units, unit_price)),
    )


def invoice_total(lines: list[InvoiceLine]) -> Decimal:
    return to_cents(sum((line.amount for line in lines), Decimal(0)))
