"""Decision guidelines and hard limits, and the pure evaluation that turns a score and its
features into an outcome (:func:`decide`). A hard limit always wins over the score."""

from rivergen.services.decisions.evaluation import decide, holds
from rivergen.services.decisions.schemas import (
    AppliedRule,
    Condition,
    Decision,
    DecisionExplanation,
    Guideline,
    GuidelineCreate,
    GuidelinePage,
    GuidelineRule,
    Guidelines,
    HardLimit,
    Threshold,
)

__all__ = [
    "AppliedRule",
    "Condition",
    "Decision",
    "DecisionExplanation",
    "Guideline",
    "GuidelineCreate",
    "GuidelinePage",
    "GuidelineRule",
    "Guidelines",
    "HardLimit",
    "Threshold",
    "decide",
    "holds",
]
