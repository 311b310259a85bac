"""Invoice arithmetic in exact decimals, and the plan catalogue."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from rivergen.billing import (
    PLANS,
    USAGE_COMPUTE_USED,
    USAGE_REQUEST,
    USAGE_STORAGE_CHANGED,
    Metric,
    Quota,
    QuotaExceeded,
    period_of,
    plan_for,
)
from rivergen.billing.metrics import usage_of
from rivergen.billing.plans import GIB, HOUR_S, TIB, Plan, Prices
from rivergen.billing.pricing import invoice_lines, invoice_total, to_cents
from rivergen.errors import NotFound, RiverGenError

PERIOD = date(2025, 2, 1)


def priced(base: str, storage: str, compute: str, plan: str = "standard") -> Plan:
    return plan_for(plan).model_copy(
        update={
            "prices": Prices(
                monthly_base=Decimal(base),
                storage_per_gib_month=Decimal(storage),
                compute_per_hour=Decimal(compute),
            )
        }
    )


def amounts(plan: Plan, used: dict[Metric, Decimal]) -> dict[str, Decimal]:
    return {line.item: line.amount for line in invoice_lines(plan, used, PERIOD)}


def test_the_catalogue_has_three_plans_with_growing_quotas_and_prices() -> None:
    free, standard, premium = plan_for("free"), plan_for("standard"), plan_for("premium")
    assert set(PLANS) == {"free", "standard", "premium"}
    assert free.quotas.storage_bytes == GIB and premium.quotas.storage_bytes == TIB
    assert standard.quotas.compute_seconds_per_month == 100 * HOUR_S
    assert (free.quotas.requests_per_minute, free.quotas.concurrent_jobs) == (60, 1)
    assert (premium.quotas.requests_per_minute, premium.quotas.concurrent_jobs) == (3000, 16)
    for quota in Quota:
        assert free.quotas.limit(quota) < standard.quotas.limit(quota) < premium.quotas.limit(quota)
    assert free.prices.monthly_base < standard.prices.monthly_base < premium.prices.monthly_base
    for plan in PLANS.values():
        for price in plan.prices.model_dump().values():
            assert isinstance(price, Decimal) and price == price.quantize(Decimal("0.01"))


def test_plans_are_frozen_and_unknown_names_are_not_found() -> None:
    with pytest.raises(ValidationError):
        plan_for("free").quotas.storage_bytes = 1  # type: ignore[misc]
    with pytest.raises(NotFound) as caught:
        plan_for("enterprise")
    assert caught.value.error_code == "plan_not_found"


def test_usage_within_the_quotas_costs_the_base_price_only() -> None:
    plan = plan_for("standard")
    used = {
        Metric.STORAGE_BYTES: Decimal(plan.quotas.storage_bytes),
        Metric.COMPUTE_SECONDS: Decimal(plan.quotas.compute_seconds_per_month),
    }
    lines = invoice_lines(plan, used, PERIOD)
    assert [line.amount for line in lines] == [Decimal("49.00"), Decimal("0.00"), Decimal("0.00")]
    assert invoice_total(lines) == Decimal("49.00")
    assert lines[0].description == "standard plan, 2025-02"


def test_amounts_are_exact_where_floats_are_not() -> None:
    # 0.1 + 0.2 in floats is 0.30000000000000004; here the total is exactly 0.30.
    plan = priced("0.10", "0.20", "0", plan="free")
    used = {Metric.STORAGE_BYTES: Decimal(plan.quotas.storage_bytes + GIB)}
    lines = invoice_lines(plan, used, PERIOD)
    assert invoice_total(lines) == Decimal("0.30")
    assert str(invoice_total(lines)) == "0.30"
    # Ten tenths of a compute hour past the quota, at 0.10 an hour, are exactly 0.10.
    plan = priced("0", "0", "0.10", plan="free")
    seconds = Decimal(plan.quotas.compute_seconds_per_month) + sum([Decimal("360")] * 10)
    assert amounts(plan, {Metric.COMPUTE_SECONDS: seconds})["compute_overage"] == Decimal("0.10")


def test_each_line_rounds_half_up_to_cents_and_the_total_adds_the_rounded_lines() -> None:
    plan = priced("0.005", "0.01", "0.01")
    free_seconds = Decimal(plan.quotas.compute_seconds_per_month)
    # Half an hour at 0.01: 0.005, rounds up to 0.01 (banker's rounding would give 0.00).
    half_hour = {Metric.COMPUTE_SECONDS: free_seconds + 1800}
    by_item = amounts(plan, half_hour)
    assert by_item == {
        "base": Decimal("0.01"),
        "storage_overage": Decimal("0.00"),
        "compute_overage": Decimal("0.01"),
    }
    assert invoice_total(invoice_lines(plan, half_hour, PERIOD)) == Decimal("0.02")
    # Just under the half: 0.0049999..., rounds down.
    assert amounts(plan, {Metric.COMPUTE_SECONDS: free_seconds + 1799})["compute_overage"] == 0
    assert to_cents(Decimal("2.675")) == Decimal("2.68")  # float round(2.675, 2) is 2.67
    assert to_cents(Decimal("-0.005")) == Decimal("-0.01")


def test_a_third_of_an_hour_is_billed_from_the_exact_fraction() -> None:
    plan = priced("0", "0", "0.30")
    over = Decimal(1200)  # 1/3 h at 0.30 is exactly 0.10; 0.333333 h x 0.30 would be 0.0999999
    line = invoice_lines(
        plan,
        {Metric.COMPUTE_SECONDS: Decimal(plan.quotas.compute_seconds_per_month) + over},
        PERIOD,
    )[2]
    assert line.quantity == Decimal("0.333333")
    assert line.amount == Decimal("0.10")


def test_storage_overage_is_per_gib_month_of_what_is_stored_past_the_quota() -> None:
    plan = plan_for("standard")  # 100 GiB included, 0.10 a GiB-month past it
    used = {Metric.STORAGE_BYTES: Decimal(plan.quotas.storage_bytes + 12 * GIB + GIB // 2)}
    line = invoice_lines(plan, used, PERIOD)[1]
    assert (line.quantity, line.amount) == (Decimal("12.5"), Decimal("1.25"))
    assert line.used == used[Metric.STORAGE_BYTES]
    # Less than nothing stored past the quota (deletes) is no credit.
    assert amounts(plan, {Metric.STORAGE_BYTES: Decimal(-5 * GIB)})["storage_overage"] == 0


def test_the_free_plan_is_never_charged() -> None:
    plan = plan_for("free")
    lines = invoice_lines(
        plan, {Metric.STORAGE_BYTES: Decimal(TIB), Metric.COMPUTE_SECONDS: Decimal(10**9)}, PERIOD
    )
    assert invoice_total(lines) == Decimal("0.00")
    assert lines[2].quantity > 0  # the overage is still shown


def test_money_is_a_string_in_json() -> None:
    lines = invoice_lines(plan_for("premium"), {}, PERIOD)
    dumped = json.loads(lines[0].model_dump_json())
    assert dumped["amount"] == "499.00" and dumped["unit_price"] == "499.00"


def test_usage_events_map_to_counters_and_other_events_are_ignored() -> None:
    assert usage_of(USAGE_STORAGE_CHANGED, {"bytes_delta": -10}) == (
        Metric.STORAGE_BYTES,
        Decimal(-10),
    )
    assert usage_of(USAGE_COMPUTE_USED, {"seconds": 0.1}) == (
        Metric.COMPUTE_SECONDS,
        Decimal("0.1"),
    )
    assert usage_of(USAGE_REQUEST, {"count": 3}) == (Metric.REQUESTS, Decimal(3))
    assert usage_of("storage.file.created", {"bytes_delta": 10}) is None
    with pytest.raises(ValidationError):
        usage_of(USAGE_COMPUTE_USED, {"seconds": -1})
    with pytest.raises(ValidationError):
        usage_of(USAGE_STORAGE_CHANGED, {})


def test_periods_are_utc_months() -> None:
    late = datetime(2025, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert period_of(late) == date(2025, 2, 1)  # 04:30 UTC on Feb 1
    assert period_of(datetime(2025, 2, 1, tzinfo=UTC)) == date(2025, 2, 1)
    with pytest.raises(ValueError):
        period_of(datetime(2025, 2, 1))


def test_quota_exceeded_is_a_403_with_its_own_code() -> None:
    error = QuotaExceeded("over", details={"limit": 1})
    assert isinstance(error, RiverGenError)
    assert (error.status, error.error_code, error.details) == (403, "quota_exceeded", {"limit": 1})
