"""The pure decision: thresholds, refining rules, and hard limits that always win."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rivergen.services.decisions import (
    Condition,
    GuidelineRule,
    Guidelines,
    HardLimit,
    Threshold,
    decide,
    holds,
)

BIG_AMOUNT = HardLimit(
    name="amount over 10000", when=Condition(feature="amount", op="gt", value=10000)
)
EMBARGO = HardLimit(
    name="embargoed country",
    when=Condition(feature="country", op="in", value=["KP", "IR"]),
    outcome="decline",
)


def test_default_thresholds() -> None:
    assert decide(0.9, {}, Guidelines()).outcome == "approve"
    assert decide(0.7, {}, Guidelines()).outcome == "approve"
    assert decide(0.5, {}, Guidelines()).outcome == "review"
    assert decide(0.1, {}, Guidelines()).outcome == "decline"


def test_a_hard_limit_overrules_a_high_score_and_is_named() -> None:
    decision = decide(0.99, {"amount": 25000, "country": "FR"}, Guidelines(), [BIG_AMOUNT, EMBARGO])
    assert decision.outcome == "decline"
    assert [h.name for h in decision.limits_hit] == ["amount over 10000"]
    assert decision.limits_hit[0].condition == "amount > 10000"
    assert "amount over 10000" in decision.explanation and "approve" in decision.explanation


def test_limits_that_do_not_hold_leave_the_score_in_charge() -> None:
    decision = decide(0.99, {"amount": 50, "country": "FR"}, Guidelines(), [BIG_AMOUNT, EMBARGO])
    assert decision.outcome == "approve" and decision.limits_hit == []


def test_the_first_limit_hit_decides_and_all_are_listed() -> None:
    review_new = HardLimit(
        name="new customer", when=Condition(feature="tenure", op="lt", value=1), outcome="review"
    )
    decision = decide(0.9, {"amount": 20000, "tenure": 0}, Guidelines(), [review_new, BIG_AMOUNT])
    assert decision.outcome == "review"
    assert [h.name for h in decision.limits_hit] == ["new customer", "amount over 10000"]


def test_rules_adjust_the_score_or_set_the_outcome_but_not_past_a_limit() -> None:
    guidelines = Guidelines(
        thresholds=[Threshold(outcome="yes", min_score=0.6)],
        fallback_outcome="no",
        rules=[
            GuidelineRule(
                name="loyal", when=Condition(feature="years", op="ge", value=5), adjust=0.2
            ),
            GuidelineRule(
                name="vip", when=Condition(feature="tier", op="eq", value="vip"), outcome="yes"
            ),
        ],
    )
    loyal = decide(0.5, {"years": 6}, guidelines)
    assert (loyal.outcome, loyal.adjusted_score) == ("yes", pytest.approx(0.7))
    assert [r.name for r in loyal.rules_applied] == ["loyal"]
    assert decide(0.5, {"years": 1}, guidelines).outcome == "no"
    assert decide(0.1, {"tier": "vip"}, guidelines).outcome == "yes"
    assert decide(0.1, {"tier": "vip", "amount": 10001}, guidelines, [BIG_AMOUNT]).outcome == (
        "decline"
    )


def test_missing_null_and_incomparable_features_fail_a_condition() -> None:
    over = Condition(feature="amount", op="gt", value=10)
    assert not holds(over, {})
    assert not holds(over, {"amount": None})
    assert not holds(over, {"amount": float("nan")})
    assert not holds(over, {"amount": "lots"})
    assert holds(Condition(feature="amount", op="is_null"), {})
    assert holds(Condition(feature="c", op="not_in", value=["a"]), {"c": "b"})


def test_a_condition_needs_a_value_of_the_right_shape() -> None:
    with pytest.raises(ValidationError):
        Condition(feature="c", op="in", value="a")
    with pytest.raises(ValidationError):
        Condition(feature="c", op="gt")
