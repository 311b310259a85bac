"""Pure decision logic: a score and features, refined by guidelines, overruled by hard limits.

No I/O: the agent, the simulation tasks and the tests call the same functions.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rivergen.services.decisions.schemas import (
    AppliedRule,
    Condition,
    Decision,
    Guidelines,
    HardLimit,
)

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
    "in": lambda value, target: value in target,
    "not_in": lambda value, target: value not in target,
}


def holds(condition: Condition, features: Mapping[str, Any]) -> bool:
    """Whether ``condition`` holds for ``features`` (see :class:`Condition` for missing and
    incomparable values)."""
    value = features.get(condition.feature)
    if isinstance(value, float) and math.isnan(value):
        value = None
    if condition.op in ("is_null", "not_null"):
        return (value is None) == (condition.op == "is_null")
    if value is None:
        return False
    try:
        return bool(_COMPARE[condition.op](value, condition.value))
    except TypeError:
        return False


def _by_threshold(score: float, guidelines: Guidelines) -> str:
    for threshold in sorted(guidelines.thresholds, key=lambda t: t.min_score, reverse=True):
        if score >= threshold.min_score:
            return threshold.outcome
    return guidelines.fallback_outcome


def decide(
    score: float,
    features: Mapping[str, Any],
    guidelines: Guidelines,
    limits: Sequence[HardLimit] = (),
) -> Decision:
    """The outcome of ``score`` for ``features``.

    1. Every guideline rule whose condition holds applies, in order: ``adjust`` moves the score
       (kept in [0, 1]); an ``outcome`` sets the outcome (the last such rule wins).
    2. Otherwise the thresholds map the adjusted score to an outcome.
    3. Every hard limit whose condition holds is hit; the first one hit decides the outcome,
       whatever the score and the rules said.
    """
    adjusted = score
    forced: str | None = None
    rules: list[AppliedRule] = []
    for rule in guidelines.rules:
        if not holds(rule.when, features):
            continue
        effects = []
        if rule.adjust:
            adjusted = min(1.0, max(0.0, adjusted + rule.adjust))
            effects.append(f"score {rule.adjust:+g}")
        if rule.outcome is not None:
            forced = rule.outcome
            effects.append(f"outcome {rule.outcome}")
        rules.append(
            AppliedRule(
                name=rule.name, condition=rule.when.describe(), effect=", ".join(effects) or "none"
            )
        )
    outcome = forced if forced is not None else _by_threshold(adjusted, guidelines)
    hit = [
        AppliedRule(
            name=limit.name, condition=limit.when.describe(), effect=f"outcome {limit.outcome}"
        )
        for limit in limits
        if holds(limit.when, features)
    ]
    by_score = outcome
    if hit:
        outcome = next(limit.outcome for limit in limits if holds(limit.when, features))
    return Decision(
        outcome=outcome,
        score=score,
        adjusted_score=adjusted,
        rules_applied=rules,
        limits_hit=hit,
        explanation=_summary(score, adjusted, by_score, outcome, rules, hit),
    )


def _summary(
    score: float,
    adjusted: float,
    by_score: str,
    outcome: str,
    rules: list[AppliedRule],
    hit: list[AppliedRule],
) -> str:
    parts = [f"score {score:.3f}"]
    if rules:
        named = ", ".join(f"'{r.name}' ({r.condition}: {r.effect})" for r in rules)
        parts.append(f"guideline rules {named} gave {adjusted:.3f}")
    parts.append(f"the guidelines say {by_score}")
    text = "; ".join(parts)
    if hit:
        named = ", ".join(f"'{h.name}' ({h.condition})" for h in hit)
        return f"{text}; hard limit {named} overrules it: {outcome}."
    return f"{text}: {outcome}."
