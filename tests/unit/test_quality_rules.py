"""Quality rules: pass and fail with the failing rows shown, and clear errors for bad rules."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math

import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from pydantic import TypeAdapter, ValidationError

from rivergen.errors import ValidationFailed
from rivergen.quality import (
    AllowedValuesRule,
    FreshnessRule,
    NotNullRule,
    RangeRule,
    RegexRule,
    Rule,
    RuleResult,
    UniqueRule,
    evaluate_rules,
)
from tests.conftest import SHARED_DATA

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
RULES = TypeAdapter(list[Rule])


def check(table: pa.Table, *rules: Rule, sample_size: int = 5) -> list[RuleResult]:
    results = evaluate_rules(table, list(rules), now=NOW, sample_size=sample_size)
    # Every result is strict JSON, as stored.
    json.dumps([r.model_dump(mode="json") for r in results], allow_nan=False)
    return results


@pytest.fixture(scope="module")
def people() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3, 3, 4]),
            "email": pa.array(["a@x.io", "b@x.io", None, "not-an-email", "d@x.io"]),
            "age": pa.array([34, None, 17, 140, 52], pa.int32()),
            "score": pa.array([0.5, math.nan, 1.0, None, 0.0]),
            "seen": pa.array(
                [dt.datetime(2024, 5, d, tzinfo=dt.UTC) for d in (1, 30, 2, 3, 4)],
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )


def test_rules_parse_from_json_by_kind() -> None:
    rules = RULES.validate_json(
        json.dumps(
            [
                {"kind": "not_null", "column": "email"},
                {"kind": "unique", "column": "id", "name": "primary key"},
                {"kind": "range", "column": "age", "min": 0, "max": 120},
                {"kind": "regex", "column": "email", "pattern": "[^@]+@[^@]+"},
                {"kind": "allowed_values", "column": "id", "values": [1, 2]},
                {"kind": "freshness", "column": "seen", "max_age_s": 86400},
            ]
        )
    )
    assert [type(rule) for rule in rules] == [
        NotNullRule,
        UniqueRule,
        RangeRule,
        RegexRule,
        AllowedValuesRule,
        FreshnessRule,
    ]
    with pytest.raises(ValidationError):
        RULES.validate_python([{"kind": "sometimes", "column": "id"}])
    with pytest.raises(ValidationError, match="needs `min`, `max` or both"):
        RULES.validate_python([{"kind": "range", "column": "age"}])
    with pytest.raises(ValidationError):
        RULES.validate_python([{"kind": "not_null", "column": "id", "typo": 1}])


def test_not_null_reports_rows_with_the_whole_record(people: pa.Table) -> None:
    (result,) = check(people, NotNullRule(column="email"))
    assert not result.passed
    assert (result.checked_count, result.failing_count) == (5, 1)
    (sample,) = result.samples
    assert sample.row == 2 and sample.value is None
    assert sample.record == {
        "id": 3,
        "email": None,
        "age": 17,
        "score": 1.0,
        "seen": "2024-05-02T00:00:00+00:00",
    }
    # A NaN is a value, not a null.
    (score,) = check(people, NotNullRule(column="score"))
    assert [s.row for s in score.samples] == [3]
    (ids,) = check(people, NotNullRule(column="id"))
    assert ids.passed and ids.failing_count == 0 and ids.samples == []


def test_unique_fails_every_row_holding_a_repeat_and_ignores_nulls(people: pa.Table) -> None:
    (result,) = check(people, UniqueRule(column="id"))
    assert not result.passed
    assert result.failing_count == 2
    assert [(s.row, s.value) for s in result.samples] == [(2, 3), (3, 3)]
    nulls = pa.table({"k": pa.array([None, None, "a"])})
    (result,) = check(nulls, UniqueRule(column="k"))
    assert result.passed and result.checked_count == 1


def test_range_bounds_inclusive_and_exclusive(people: pa.Table) -> None:
    (result,) = check(people, RangeRule(column="age", min=18, max=120))
    assert (result.passed, result.failing_count, result.checked_count) == (False, 2, 4)
    assert [(s.row, s.value) for s in result.samples] == [(2, 17), (3, 140)]

    (inclusive,) = check(people, RangeRule(column="age", min=17, max=140))
    assert inclusive.passed
    (exclusive,) = check(
        people, RangeRule(column="age", min=17, max=140, min_inclusive=False, max_inclusive=False)
    )
    assert [s.value for s in exclusive.samples] == [17, 140]

    # NaN lies in no range; the null is not checked.
    (score,) = check(people, RangeRule(column="score", min=0.0))
    assert [(s.row, s.value) for s in score.samples] == [(1, "NaN")]

    (seen,) = check(people, RangeRule(column="seen", max="2024-05-04T00:00:00Z"))
    assert [s.value for s in seen.samples] == ["2024-05-30T00:00:00+00:00"]


def test_range_on_decimals_dates_and_strings() -> None:
    table = pa.table(
        {
            "price": pa.array(
                [decimal.Decimal("9.99"), decimal.Decimal("10.01")], pa.decimal128(6, 2)
            ),
            "day": pa.array([dt.date(2024, 1, 1), dt.date(2023, 12, 31)], pa.date32()),
            "code": pa.array(["AB", "ZZ"]),
        }
    )
    price, day, code = check(
        table,
        RangeRule(column="price", max=10),
        RangeRule(column="day", min="2024-01-01"),
        RangeRule(column="code", min="AA", max="MZ"),
    )
    assert [s.value for s in price.samples] == [10.01]
    assert [s.value for s in day.samples] == ["2023-12-31"]
    assert [s.value for s in code.samples] == ["ZZ"]


def test_range_bounds_that_do_not_fit_the_column_are_invalid(people: pa.Table) -> None:
    for rule in (
        RangeRule(column="age", min="eighteen"),
        RangeRule(column="seen", min=5),
        RangeRule(column="seen", min="yesterday"),
        RangeRule(column="email", min=1),
    ):
        with pytest.raises(ValidationFailed) as caught:
            check(people, rule)
        assert caught.value.error_code == "invalid_rule"
        assert rule.column in caught.value.message


def test_regex_full_and_partial_match(people: pa.Table) -> None:
    (full,) = check(people, RegexRule(column="email", pattern=r"[a-z]+@[a-z]+\.[a-z]+"))
    assert (full.failing_count, full.checked_count) == (1, 4)
    assert [(s.row, s.value) for s in full.samples] == [(3, "not-an-email")]
    (partial,) = check(people, RegexRule(column="email", pattern="x", full_match=False))
    assert [s.value for s in partial.samples] == ["not-an-email"]
    # A number is checked in its text form.
    (ages,) = check(people, RegexRule(column="age", pattern=r"\d{2}"))
    assert [s.value for s in ages.samples] == [140]


def test_a_bad_regex_is_a_clear_error(people: pa.Table) -> None:
    with pytest.raises(ValidationError, match="not a valid RE2 regular expression"):
        RegexRule(column="email", pattern="([a-z")
    # Lookahead compiles in Python's re but not in RE2, which evaluates the rule.
    with pytest.raises(ValidationError, match="not a valid RE2"):
        RULES.validate_python([{"kind": "regex", "column": "email", "pattern": "a(?=b)"}])
    # A rule that skipped validation still fails cleanly when evaluated.
    unchecked = RegexRule.model_construct(column="email", pattern="([a-z", full_match=False)
    with pytest.raises(ValidationFailed) as caught:
        check(people, unchecked)
    assert caught.value.error_code == "invalid_regex"


def test_allowed_values(people: pa.Table) -> None:
    (result,) = check(people, AllowedValuesRule(column="id", values=[1, 2, 3]))
    assert [(s.row, s.value) for s in result.samples] == [(4, 4)]
    colours = pa.table({"c": pa.array(["red", "blue", None, "pink"]).dictionary_encode()})
    (result,) = check(colours, AllowedValuesRule(column="c", values=["red", "blue"]))
    assert (result.failing_count, result.checked_count) == (1, 3)
    assert result.samples[0].record == {"c": "pink"}
    with pytest.raises(ValidationFailed) as caught:
        check(people, AllowedValuesRule(column="seen", values=["soon"]))
    assert caught.value.error_code == "invalid_rule"


def test_freshness(people: pa.Table) -> None:
    (stale,) = check(people, FreshnessRule(column="seen", max_age_s=86_400))
    assert not stale.passed
    assert stale.failing_count == 5
    assert stale.details["newest"] == "2024-05-30T00:00:00+00:00"
    assert stale.details["age_s"] == 2.5 * 86_400
    assert [s.row for s in stale.samples] == [1]
    (fresh,) = check(people, FreshnessRule(column="seen", max_age_s=3 * 86_400))
    assert fresh.passed and fresh.failing_count == 0 and fresh.samples == []

    days = pa.table({"d": pa.array([dt.date(2024, 5, 31)], pa.date32())})
    naive_now = dt.datetime(2024, 6, 1, 0, 0)  # read as UTC
    (result,) = evaluate_rules(days, [FreshnessRule(column="d", max_age_s=86_400)], now=naive_now)
    assert result.passed and result.details["age_s"] == 86_400

    empty = pa.table({"t": pa.nulls(2, pa.timestamp("s"))})
    (result,) = check(empty, FreshnessRule(column="t", max_age_s=1))
    assert not result.passed and result.details["newest"] is None

    with pytest.raises(ValidationFailed) as caught:
        check(people, FreshnessRule(column="age", max_age_s=1))
    assert caught.value.error_code == "invalid_rule"


def test_unknown_column_is_a_clear_error_before_anything_runs(people: pa.Table) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check(people, NotNullRule(column="id"), UniqueRule(column="nope"))
    assert caught.value.error_code == "unknown_column"
    assert caught.value.status == 422
    assert caught.value.details == {"rule_index": 1, "column": "nope"}
    assert "'nope'" in caught.value.message
    twice = pa.table([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(ValidationFailed) as caught:
        check(twice, NotNullRule(column="a"))
    assert caught.value.error_code == "ambiguous_column"


def test_sample_size_limits_samples_not_the_count() -> None:
    table = pa.table({"v": pa.array([None] * 50 + [1])})
    (result,) = check(table, NotNullRule(column="v"), sample_size=3)
    assert result.failing_count == 50
    assert [s.row for s in result.samples] == [0, 1, 2]


def test_northwind_products_rules() -> None:
    products = pcsv.read_csv(SHARED_DATA / "northwind" / "products.csv")
    results = check(
        products,
        UniqueRule(column="productID"),
        NotNullRule(column="productName"),
        RangeRule(column="unitPrice", min=0, min_inclusive=False),
        AllowedValuesRule(column="discontinued", values=[0, 1]),
        RangeRule(column="categoryID", min=1, max=8),
        RangeRule(column="unitPrice", max=100),
        RegexRule(column="quantityPerUnit", pattern=r"\d+ - \d+ .*"),  # "24 - 12 oz bottles"
    )
    assert [r.passed for r in results] == [True, True, True, True, True, False, False]
    expensive = results[5]
    # Côte de Blaye (263.50) and Thüringer Rostbratwurst (123.79).
    assert expensive.failing_count == 2
    assert {s.record["productName"] for s in expensive.samples} == {
        "Côte de Blaye",
        "Thüringer Rostbratwurst",
    }
    # 51 quantities read "<count> - <size> ..."; 26 do not ("1 kg pkg.", "10 boxes x 20 bags").
    packs = results[6]
    assert packs.failing_count == 26
    assert packs.samples[0].model_dump() == {
        "row": 0,
        "value": "10 boxes x 20 bags",
        "record": {
            "productID": 1,
            "productName": "Chai",
            "supplierID": 1,
            "categoryID": 1,
            "quantityPerUnit": "10 boxes x 20 bags",
            "unitPrice": 18.0,
            "unitsInStock": 39,
            "unitsOnOrder": 0,
            "reorderLevel": 10,
            "discontinued": 0,
        },
    }
