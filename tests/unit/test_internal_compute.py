"""Internal Compute's typed queries over the published Northwind tables, checked against
plain Python over the same rows."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from rivergen.engine.spec import QuerySpec, check_query
from rivergen.errors import ValidationFailed
from tests.conftest import SHARED_DATA
from tests.engine_helpers import run_query

NORTHWIND = SHARED_DATA / "northwind"
LEFT, RIGHT = uuid.uuid4(), uuid.uuid4()


@pytest.fixture(scope="module")
def products() -> pa.Table:
    return pacsv.read_csv(NORTHWIND / "products.csv")


@pytest.fixture(scope="module")
def categories() -> pa.Table:
    return pacsv.read_csv(NORTHWIND / "categories.csv").drop(["picture"])


def types(table: pa.Table) -> dict[str, str]:
    return {f.name: str(f.type) for f in table.schema}


def spec(**fields: Any) -> QuerySpec:
    return QuerySpec.model_validate({"dataset": str(LEFT), **fields})


def test_join_filter_group_aggregate_order(products: pa.Table, categories: pa.Table) -> None:
    query = spec(
        join={"dataset": str(RIGHT), "left_on": ["categoryID"], "right_on": ["categoryID"]},
        filters=[
            {"column": "discontinued", "op": "==", "value": 0},
            {"column": "unitPrice", "op": ">=", "value": 10},
        ],
        group_by=["categoryName"],
        aggregates=[
            {"function": "count"},
            {"function": "sum", "column": "unitsInStock"},
            {"function": "mean", "column": "unitPrice", "alias": "avg_price"},
            {"function": "min", "column": "productName"},
            {"function": "max", "column": "unitPrice"},
            {"function": "count_distinct", "column": "supplierID"},
        ],
        order_by=[{"column": "count", "descending": True}, {"column": "categoryName"}],
        limit=5,
    )
    output = check_query(query, types(products), types(categories))
    assert list(output) == [
        "categoryName",
        "count",
        "sum_unitsInStock",
        "avg_price",
        "min_productName",
        "max_unitPrice",
        "count_distinct_supplierID",
    ]
    result = run_query(query, products, categories)
    assert result.column_names == list(output)

    names = {c["categoryID"]: c["categoryName"] for c in categories.to_pylist()}
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in products.to_pylist():
        if row["discontinued"] == 0 and row["unitPrice"] >= 10:
            groups[names[row["categoryID"]]].append(row)
    expected = sorted(
        (
            {
                "categoryName": name,
                "count": len(rows),
                "sum_unitsInStock": sum(r["unitsInStock"] for r in rows),
                "avg_price": sum(r["unitPrice"] for r in rows) / len(rows),
                "min_productName": min(r["productName"] for r in rows),
                "max_unitPrice": max(r["unitPrice"] for r in rows),
                "count_distinct_supplierID": len({r["supplierID"] for r in rows}),
            }
            for name, rows in groups.items()
        ),
        key=lambda r: (-r["count"], r["categoryName"]),
    )[:5]
    got = result.to_pylist()
    for row in got:
        row["avg_price"] = pytest.approx(row["avg_price"])
    assert got == expected


def test_projection_filters_and_limit(products: pa.Table) -> None:
    query = spec(
        filters=[
            {"column": "productName", "op": "starts_with", "value": "Ch"},
            {"column": "supplierID", "op": "in", "value": [1, 2]},
        ],
        columns=["productID", "productName"],
        order_by=[{"column": "productID", "descending": True}],
        limit=2,
    )
    check_query(query, types(products))
    rows = run_query(query, products).to_pylist()
    expected = sorted(
        (
            {"productID": r["productID"], "productName": r["productName"]}
            for r in products.to_pylist()
            if r["productName"].startswith("Ch") and r["supplierID"] in (1, 2)
        ),
        key=lambda r: -r["productID"],
    )[:2]
    assert rows == expected and rows


def test_global_aggregate_without_group(products: pa.Table) -> None:
    query = spec(aggregates=[{"function": "count"}, {"function": "sum", "column": "unitsInStock"}])
    check_query(query, types(products))
    assert run_query(query, products).to_pylist() == [
        {"count": products.num_rows, "sum_unitsInStock": sum(products["unitsInStock"].to_pylist())}
    ]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"columns": ["nope"]}, "column_not_found"),
        (
            {"filters": [{"column": "unitPrice", "op": ">", "value": "cheap"}]},
            "column_type_mismatch",
        ),
        (
            {"filters": [{"column": "productName", "op": "contains", "value": 3}]},
            "column_type_mismatch",
        ),
        ({"aggregates": [{"function": "sum", "column": "productName"}]}, "aggregate_not_numeric"),
        (
            {"aggregates": [{"function": "count"}], "order_by": [{"column": "unitPrice"}]},
            "column_not_found",
        ),
    ],
)
def test_refused_before_running(products: pa.Table, fields: dict[str, Any], code: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_query(spec(**fields), types(products))
    assert caught.value.error_code == code
