"""Evaluate quality rules over an Arrow table.

Every rule but ``not_null`` looks at non-null values only (a null is ``not_null``'s business).
A failing row is reported with its index, the offending value and the whole row, JSON-safe.
``freshness`` is a column-level rule: when the newest value is too old, every non-null value is
too old, so ``failing_count`` is the number of non-null values and the one sample is the row of
the newest value; a column without values is not fresh (``failing_count`` 0).

A rule that cannot apply to the table raises `ValidationFailed` before anything is evaluated:
``unknown_column`` (the table has no such column), ``ambiguous_column`` (it has several of that
name), ``invalid_rule`` (a bound or allowed value
that the column's type cannot hold, a rule the column's type does not support) or
``invalid_regex``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from rivergen.errors import ValidationFailed
from rivergen.quality.schemas import (
    AllowedValuesRule,
    FailingRow,
    FreshnessRule,
    NotNullRule,
    RangeRule,
    RegexRule,
    Rule,
    RuleResult,
    UniqueRule,
)
from rivergen.quality.values import (
    Family,
    JsonValue,
    family,
    json_values,
    normalize,
    physical_ints,
    temporal_iso,
)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_ORDERED = {
    Family.INTEGER,
    Family.FLOATING,
    Family.DECIMAL,
    Family.DURATION,
    Family.TEMPORAL,
    Family.STRING,
}


def evaluate_rules(
    table: pa.Table, rules: Sequence[Rule], *, now: dt.datetime, sample_size: int = 5
) -> list[RuleResult]:
    """One result per rule, in order. ``now`` (naive means UTC) is what freshness measures from."""
    for index, rule in enumerate(rules):
        found = table.column_names.count(rule.column)
        if found != 1:
            raise ValidationFailed(
                f"rule {index} ({rule.kind}) names column {rule.column!r}, which the table "
                + ("does not have" if found == 0 else f"has {found} times"),
                code="unknown_column" if found == 0 else "ambiguous_column",
                details={"rule_index": index, "column": rule.column},
            )
    moment = now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)
    return [_evaluate(table, index, rule, moment, sample_size) for index, rule in enumerate(rules)]


def capped_samples(results: Sequence[RuleResult], max_rows: int | None) -> list[RuleResult]:
    """``results`` as a caller whose row limit is ``max_rows`` may take them: at most
    ``max_rows`` failing rows in all (the first rules' first), the counts kept."""
    if max_rows is None:
        return list(results)
    left, capped = max_rows, []
    for result in results:
        samples = result.samples[:left]
        left -= len(samples)
        capped.append(result.model_copy(update={"samples": samples}))
    return capped


def _evaluate(
    table: pa.Table, index: int, rule: Rule, now: dt.datetime, sample_size: int
) -> RuleResult:
    column = normalize(table[rule.column])
    if isinstance(rule, FreshnessRule):
        return _freshness(table, index, rule, column, now)
    if isinstance(rule, NotNullRule):
        failing = pc.is_null(column)
    elif isinstance(rule, UniqueRule):
        failing = _repeated(index, column)
    elif isinstance(rule, RangeRule):
        failing = _out_of_range(index, rule, column)
    elif isinstance(rule, RegexRule):
        failing = _mismatching(index, rule, column)
    else:
        failing = _not_allowed(index, rule, column)
    failing = pc.fill_null(failing, False)
    failing_count = int(pc.sum(failing).as_py() or 0)
    rows = pc.indices_nonzero(failing.combine_chunks())[:sample_size]
    checked = len(column) if isinstance(rule, NotNullRule) else len(column) - column.null_count
    return RuleResult(
        rule=rule,
        passed=failing_count == 0,
        checked_count=checked,
        failing_count=failing_count,
        samples=_samples(table, rule.column, rows),
    )


def _repeated(index: int, column: pa.ChunkedArray) -> pa.ChunkedArray:
    _supported(column, {Family.NESTED, Family.NULL}, "unique", index, exclude=True)
    counted = pc.value_counts(column)
    values = counted.field("values").filter(pc.greater(counted.field("counts"), 1))
    return pc.and_(pc.is_valid(column), pc.is_in(column, value_set=values.drop_null()))


def _out_of_range(index: int, rule: RangeRule, column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = _supported(column, _ORDERED, "range", index)
    values = column.cast(pa.float64()) if kind is Family.DECIMAL else column
    if kind is Family.DURATION:
        values = physical_ints(column)
    inside: pa.ChunkedArray | None = None
    for bound, inclusive, below in (
        (rule.min, rule.min_inclusive, False),
        (rule.max, rule.max_inclusive, True),
    ):
        if bound is None:
            continue
        limit = _scalar(index, rule, bound, values)
        if below:
            test = pc.less_equal(values, limit) if inclusive else pc.less(values, limit)
        else:
            test = pc.greater_equal(values, limit) if inclusive else pc.greater(values, limit)
        inside = test if inside is None else pc.and_(inside, test)
    assert inside is not None  # the model requires a bound
    return pc.invert(inside)


def _mismatching(index: int, rule: RegexRule, column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = _supported(column, {Family.NESTED, Family.NULL}, "regex", index, exclude=True)
    try:
        text = column if kind is Family.STRING else column.cast(pa.large_string())
    except pa.ArrowException as exc:
        raise _invalid(index, rule, f"column cannot be read as text: {exc}") from None
    pattern = f"^(?:{rule.pattern})$" if rule.full_match else rule.pattern
    try:
        matched = pc.match_substring_regex(text, pattern=pattern)
    except pa.ArrowInvalid as exc:
        raise ValidationFailed(
            f"rule {index} (regex): pattern is not a valid RE2 regular expression: {exc}",
            code="invalid_regex",
            details={"rule_index": index, "pattern": rule.pattern},
        ) from None
    return pc.invert(matched)


def _not_allowed(index: int, rule: AllowedValuesRule, column: pa.ChunkedArray) -> pa.ChunkedArray:
    _supported(column, {Family.NESTED, Family.NULL}, "allowed_values", index, exclude=True)
    wanted = [value for value in rule.values if value is not None]
    try:
        allowed = pa.array(wanted).cast(column.type) if wanted else pa.array([], column.type)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise _invalid(index, rule, f"values do not fit the column's type: {exc}") from None
    return pc.and_(pc.is_valid(column), pc.invert(pc.is_in(column, value_set=allowed)))


def _freshness(
    table: pa.Table, index: int, rule: FreshnessRule, column: pa.ChunkedArray, now: dt.datetime
) -> RuleResult:
    if not (pa.types.is_timestamp(column.type) or pa.types.is_date(column.type)):
        raise _invalid(index, rule, f"needs a date or timestamp column, not {column.type}")
    ints = physical_ints(column)
    valid = len(column) - column.null_count
    newest = pc.max(ints).as_py()
    if newest is None:
        return RuleResult(
            rule=rule,
            passed=False,
            checked_count=0,
            failing_count=0,
            details={"newest": None, "age_s": None, "max_age_s": rule.max_age_s},
        )
    age_s = (now - _instant(newest, column.type)).total_seconds()
    passed = age_s <= rule.max_age_s
    row = pc.index(ints, newest).as_py()
    return RuleResult(
        rule=rule,
        passed=passed,
        checked_count=valid,
        failing_count=0 if passed else valid,
        samples=[] if passed else _samples(table, rule.column, pa.array([row], pa.int64())),
        details={
            "newest": temporal_iso(newest, column.type),
            "age_s": age_s,
            "max_age_s": rule.max_age_s,
        },
    )


def _instant(value: int, type_: pa.DataType) -> dt.datetime:
    """A date's or timestamp's storage value as an aware UTC datetime (to the microsecond)."""
    if pa.types.is_date32(type_):
        return _EPOCH + dt.timedelta(days=value)
    if pa.types.is_date64(type_):
        return _EPOCH + dt.timedelta(milliseconds=value)
    seconds, fraction = divmod(value, _PER_SECOND[type_.unit])
    micros = fraction * 1_000_000 // _PER_SECOND[type_.unit]
    return _EPOCH + dt.timedelta(seconds=seconds, microseconds=micros)


def _scalar(index: int, rule: RangeRule, bound: float | str, values: pa.ChunkedArray) -> pa.Scalar:
    kind = family(values.type)
    numeric = isinstance(bound, int | float) and not isinstance(bound, bool)
    if kind is Family.TEMPORAL and isinstance(bound, str):
        try:
            return pa.scalar(bound).cast(values.type)
        except pa.ArrowException as exc:
            raise _invalid(index, rule, f"bound {bound!r} is not a {values.type}: {exc}") from None
    if (kind is Family.STRING and isinstance(bound, str)) or (
        kind not in {Family.TEMPORAL, Family.STRING} and numeric
    ):
        return pa.scalar(bound)
    raise _invalid(index, rule, f"bound {bound!r} cannot be compared with {values.type} values")


def _supported(
    column: pa.ChunkedArray,
    families: set[Family],
    kind: str,
    index: int,
    *,
    exclude: bool = False,
) -> Family:
    found = family(column.type)
    if (found in families) == exclude:
        raise ValidationFailed(
            f"rule {index} ({kind}) does not apply to a column of type {column.type}",
            code="invalid_rule",
            details={"rule_index": index, "type": str(column.type)},
        )
    return found


def _invalid(index: int, rule: Rule, reason: str) -> ValidationFailed:
    return ValidationFailed(
        f"rule {index} ({rule.kind}) on column {rule.column!r}: {reason}",
        code="invalid_rule",
        details={"rule_index": index, "column": rule.column},
    )


def _samples(table: pa.Table, column: str, rows: pa.Array) -> list[FailingRow]:
    if len(rows) == 0:
        return []
    taken = table.take(rows)
    fields: dict[str, list[JsonValue]] = {
        name: json_values(taken[name]) for name in taken.column_names
    }
    return [
        FailingRow(
            row=row,
            value=fields[column][i],
            record={name: values[i] for name, values in fields.items()},
        )
        for i, row in enumerate(rows.to_pylist())
    ]
