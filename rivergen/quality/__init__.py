"""Data Quality & Profiling: column profiles and quality rules over Arrow tables.

Pure pyarrow/numpy; the Ray tasks that run these over the object store are in
`compute.profiling`.
"""

from rivergen.quality.profile import capped_profile, profile_column
from rivergen.quality.rules import capped_samples, evaluate_rules
from rivergen.quality.schemas import (
    AllowedValuesRule,
    ColumnProfile,
    DatasetProfile,
    FailingRow,
    FreshnessRule,
    Histogram,
    NotNullRule,
    RangeRule,
    RegexRule,
    Rule,
    RuleResult,
    UniqueRule,
    ValueCount,
)

__all__ = [
    "AllowedValuesRule",
    "ColumnProfile",
    "DatasetProfile",
    "FailingRow",
    "FreshnessRule",
    "Histogram",
    "NotNullRule",
    "RangeRule",
    "RegexRule",
    "Rule",
    "RuleResult",
    "UniqueRule",
    "ValueCount",
    "capped_profile",
    "capped_samples",
    "evaluate_rules",
    "profile_column",
]
