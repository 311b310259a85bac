"""compile_sql over the shop catalog: what it accepts, what the compiled query answers (checked
against plain Python over the same rows), and what it refuses."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from typing import Any

import pyarrow as pa
import pytest

from rivergen.engine.spec import QuerySpec, check_query
from rivergen.errors import BadRequest, RiverGenError, ValidationFailed
from rivergen.samples import load_shop, shop_catalog, shop_ids
from rivergen.services.execution.sql import ColumnSource, compile_sql, run_compiled
from rivergen.services.planning.catalog import PromptCatalog
from tests.engine_helpers import run_query


@pytest.fixture(scope="module")
def catalog() -> PromptCatalog:
    return shop_catalog()


@pytest.fixture(scope="module")
def shop() -> dict[str, pa.Table]:
    return load_shop()


@pytest.fixture(scope="module")
def tables(shop: dict[str, pa.Table]) -> dict[uuid.UUID, pa.Table]:
    ids = shop_ids()
    return {ids[name]: table for name, table in shop.items()}


def rows(sql: str, catalog: PromptCatalog, tables: dict[uuid.UUID, pa.Table]) -> list[Any]:
    return run_compiled(compile_sql(sql, catalog), tables).to_pylist()


def test_two_joins_group_having_order_limit(
    catalog: PromptCatalog, tables: dict[uuid.UUID, pa.Table], shop: dict[str, pa.Table]
) -> None:
    compiled = compile_sql(
        "SELECT p.category AS cat, c.country, COUNT(*) AS n, SUM(o.amount) AS revenue "
        "FROM orders o JOIN customers c ON o.customer_id = c.customer_id "
        "JOIN products p ON p.product_id = o.product_id "
        "WHERE o.status IN ('delivered', 'shipped') AND o.order_date >= DATE '2024-01-01' "
        "GROUP BY p.category, c.country HAVING COUNT(*) >= 10 "
        "ORDER BY revenue DESC, cat LIMIT 4",
        catalog,
    )
    assert compiled.tables == ["orders", "customers", "products"]
    assert compiled.lineage == {
        "cat": [ColumnSource(table="products", column="category")],
        "country": [ColumnSource(table="customers", column="country")],
        "n": [],
        "revenue": [ColumnSource(table="orders", column="amount")],
    }
    assert {table: sorted(columns) for table, columns in compiled.reads.items()} == {
        "products": ["category", "product_id"],
        "customers": ["country", "customer_id"],
        "orders": ["amount", "customer_id", "order_date", "product_id", "status"],
    }
    got = run_compiled(compiled, tables).to_pylist()
    customers = {r["customer_id"]: r for r in shop["customers"].to_pylist()}
    products = {r["product_id"]: r for r in shop["products"].to_pylist()}
    count: Counter[tuple[str, str]] = Counter()
    revenue: defaultdict[tuple[str, str], float] = defaultdict(float)
    for order in shop["orders"].to_pylist():
        if order["status"] in ("delivered", "shipped") and str(order["order_date"]) >= "2024":
            key = (
                products[order["product_id"]]["category"],
                customers[order["customer_id"]]["country"],
            )
            count[key] += 1
            revenue[key] += order["amount"]
    expected = sorted(
        ((k, count[k], revenue[k]) for k in count if count[k] >= 10),
        key=lambda item: (-item[2], item[0][0]),
    )[:4]
    assert [(r["cat"], r["country"], r["n"]) for r in got] == [
        (k[0], k[1], n) for k, n, _ in expected
    ]
    assert [r["revenue"] for r in got] == pytest.approx([v for _, _, v in expected])


def test_or_groups_like_distinct_and_derived(
    catalog: PromptCatalog, tables: dict[uuid.UUID, pa.Table], shop: dict[str, pa.Table]
) -> None:
    products = shop["products"].to_pylist()
    got = rows(
        "SELECT name FROM products WHERE (category = 'Books' OR price > 1000) "
        "AND name LIKE '%o%' ORDER BY name",
        catalog,
        tables,
    )
    assert [r["name"] for r in got] == sorted(
        p["name"]
        for p in products
        if (p["category"] == "Books" or p["price"] > 1000) and "o" in p["name"]
    )
    got = rows("SELECT DISTINCT country FROM customers ORDER BY country DESC", catalog, tables)
    countries = {r["country"] for r in shop["customers"].to_pylist()}
    assert [r["country"] for r in got] == sorted(countries, reverse=True)
    got = rows(
        "SELECT EXTRACT(YEAR FROM order_date) AS y, MONTH(order_date) AS m, COUNT(*) AS n "
        "FROM orders WHERE YEAR(order_date) = 2024 GROUP BY 1, 2 ORDER BY y, m",
        catalog,
        tables,
    )
    months = Counter(
        r["order_date"].month for r in shop["orders"].to_pylist() if r["order_date"].year == 2024
    )
    assert [(r["y"], r["m"], r["n"]) for r in got] == [(2024, m, months[m]) for m in range(1, 13)]


def test_order_by_a_column_not_selected_and_star(
    catalog: PromptCatalog, tables: dict[uuid.UUID, pa.Table]
) -> None:
    got = rows("SELECT name FROM products ORDER BY price DESC LIMIT 2", catalog, tables)
    assert list(got[0]) == ["name"] and len(got) == 2
    got = rows("SELECT * FROM customers WHERE customer_id BETWEEN 3 AND 5", catalog, tables)
    assert [r["customer_id"] for r in got] == [3, 4, 5] and len(got[0]) == 8


@pytest.mark.parametrize(
    ("sql", "error", "code"),
    [
        # The engine's binder: 422 sql_invalid with its message, before any data is read.
        ("SELECT salary FROM customers", ValidationFailed, "sql_invalid"),
        ("SELECT x.name FROM customers c", ValidationFailed, "sql_invalid"),
        (
            "SELECT name FROM customers c JOIN products p ON c.customer_id = p.product_id",
            ValidationFailed,
            "sql_invalid",
        ),
        ("SELECT SUM(name) FROM customers", ValidationFailed, "sql_invalid"),
        (
            "SELECT country, name, COUNT(*) FROM customers GROUP BY country",
            ValidationFailed,
            "sql_invalid",
        ),
        ("SELECT * FROM customers WHERE COUNT(*) > 1", ValidationFailed, "sql_invalid"),
        ("SELECT * FROM customers WHERE name = $1", ValidationFailed, "sql_invalid"),
        ("SELEC * FROM customers", ValidationFailed, "sql_invalid"),
        # Names the catalog does not have.
        ("SELECT * FROM employees", ValidationFailed, "table_not_found"),
        ("SELECT * FROM public.customers", ValidationFailed, "table_not_found"),
        ("SELECT * FROM '/etc/passwd'", ValidationFailed, "table_not_found"),
        # Refused before anything runs.
        ("SELECT 1; SELECT 2", BadRequest, "sql_multiple_statements"),
        ("COPY customers TO '/tmp/x'", BadRequest, "sql_not_read_only"),
        ("SELECT * FROM customers FOR UPDATE", BadRequest, "sql_not_read_only"),
        ("SELECT * FROM read_parquet('/tmp/x.parquet')", BadRequest, "sql_function_not_allowed"),
        (
            "SELECT current_setting('threads') FROM customers",
            BadRequest,
            "sql_function_not_allowed",
        ),
    ],
)
def test_refusals(sql: str, error: type[RiverGenError], code: str, catalog: PromptCatalog) -> None:
    with pytest.raises(error) as raised:
        compile_sql(sql, catalog)
    assert raised.value.error_code == code


def test_the_whole_select_dialect_runs(
    catalog: PromptCatalog, tables: dict[uuid.UUID, pa.Table], shop: dict[str, pa.Table]
) -> None:
    """CTEs, subqueries, windows, arithmetic, CASE, set operations and FETCH FIRST: the
    engine's dialect, checked against plain Python over the same rows."""
    orders = shop["orders"].to_pylist()
    got = rows(
        "WITH big AS (SELECT customer_id, amount FROM orders WHERE amount > "
        "(SELECT avg(amount) FROM orders)) "
        "SELECT customer_id, sum(amount) * 2 AS twice, "
        "CASE WHEN count(*) > 3 THEN 'many' ELSE 'few' END AS size, "
        "rank() OVER (ORDER BY sum(amount) DESC, customer_id) AS r "
        "FROM big GROUP BY customer_id ORDER BY r FETCH FIRST 3 ROWS ONLY",
        catalog,
        tables,
    )
    mean = sum(o["amount"] for o in orders) / len(orders)
    totals: defaultdict[int, float] = defaultdict(float)
    counts: Counter[int] = Counter()
    for o in orders:
        if o["amount"] > mean:
            totals[o["customer_id"]] += o["amount"]
            counts[o["customer_id"]] += 1
    expected = sorted(totals, key=lambda c: (-totals[c], c))[:3]
    assert [r["customer_id"] for r in got] == expected
    assert [r["twice"] for r in got] == pytest.approx([2 * totals[c] for c in expected])
    assert [r["size"] for r in got] == ["many" if counts[c] > 3 else "few" for c in expected]
    assert [r["r"] for r in got] == [1, 2, 3]
    got = rows(
        "SELECT country FROM customers EXCEPT SELECT country FROM customers "
        "WHERE customer_id > 3 ORDER BY 1 LIMIT 5 OFFSET 0",
        catalog,
        tables,
    )
    customers = shop["customers"].to_pylist()
    late = {c["country"] for c in customers if c["customer_id"] > 3}
    assert [r["country"] for r in got] == sorted({c["country"] for c in customers} - late)[:5]


def test_a_query_spec_valid_before_means_the_same(shop: dict[str, pa.Table]) -> None:
    """A QuerySpec of the first shape (one join, filters, group, order, limit) keeps its
    meaning: the extensions all default to nothing."""
    left, right = uuid.uuid4(), uuid.uuid4()
    spec = QuerySpec.model_validate(
        {
            "dataset": str(left),
            "join": {"dataset": str(right), "left_on": ["product_id"], "right_on": ["product_id"]},
            "filters": [{"column": "quantity", "op": ">=", "value": 2}],
            "group_by": ["category"],
            "aggregates": [{"function": "count"}, {"function": "sum", "column": "amount"}],
            "order_by": [{"column": "category"}],
            "limit": 3,
        }
    )
    assert (spec.joins, spec.derive, spec.any_of, spec.having, spec.distinct, spec.output) == (
        [],
        [],
        [],
        [],
        False,
        None,
    )
    schema = {f.name: str(f.type) for f in shop["orders"].schema}
    right_schema = {f.name: str(f.type) for f in shop["products"].schema}
    assert list(check_query(spec, schema, right_schema)) == ["category", "count", "sum_amount"]
    got = run_query(spec, shop["orders"], shop["products"]).to_pylist()
    assert [r["category"] for r in got] == ["Books", "Clothing", "Electronics"]
    assert spec.join is not None and spec.join.suffix == "_right"
