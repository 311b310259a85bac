"""The built-in provider over the shop sample: questions people ask, each with its answer
computed independently (SQLite over the same CSVs, SQL written by hand).

The provider must answer at least 90% exactly and say "not understood" for the rest; an answer
that differs from the expected one fails, whatever the score.
"""

from __future__ import annotations

import csv
import math
import random
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import sqlglot

from rivergen.errors import BadRequest, RiverGenError, ValidationFailed
from rivergen.samples import SHOP_DIR, SHOP_TABLES, load_shop, shop_catalog, shop_ids
from rivergen.services.execution.sql import compile_sql, run_compiled
from rivergen.services.planning.builtin import translate
from rivergen.services.planning.catalog import CatalogColumn, CatalogTable, PromptCatalog
from rivergen.services.planning.intents import NotUnderstood, QueryIntent
from tests.conftest import SHARED_DATA

ORDERS_CUSTOMERS = "FROM orders o JOIN customers c ON o.customer_id = c.customer_id"
ORDERS_PRODUCTS = "FROM orders o JOIN products p ON o.product_id = p.product_id"
Y2024 = "o.order_date >= '2024-01-01' AND o.order_date < '2025-01-01'"


@dataclass(frozen=True)
class Case:
    question: str
    sql: str
    ordered: bool = False


CORPUS: list[Case] = [
    # Counts, filters on declared values, misspellings
    Case("how many customers are there", "SELECT COUNT(*) FROM customers"),
    Case(
        "How many customers in Germany?", "SELECT COUNT(*) FROM customers WHERE country = 'Germany'"
    ),
    Case("how many custmers in Germny", "SELECT COUNT(*) FROM customers WHERE country = 'Germany'"),
    Case(
        "how many clients are from New York",
        "SELECT COUNT(*) FROM customers WHERE city = 'New York'",
    ),
    Case(
        "number of customers in Paris or Lyon",
        "SELECT COUNT(*) FROM customers WHERE city IN ('Paris', 'Lyon')",
    ),
    Case("how many orders were shipped", "SELECT COUNT(*) FROM orders WHERE status = 'shipped'"),
    Case(
        "number of cancelled or returned orders",
        "SELECT COUNT(*) FROM orders WHERE status IN ('cancelled', 'returned')",
    ),
    Case(
        "how many orders are not delivered",
        "SELECT COUNT(*) FROM orders WHERE status != 'delivered'",
    ),
    Case("how many products are there", "SELECT COUNT(*) FROM products"),
    Case(
        "how many distinct cities do customers live in",
        "SELECT COUNT(DISTINCT city) FROM customers",
    ),
    Case("how many unique countries", "SELECT COUNT(DISTINCT country) FROM customers"),
    # Group by and aggregates
    Case("number of orders by status", "SELECT status, COUNT(*) FROM orders GROUP BY status"),
    Case("count of orders per channel", "SELECT channel, COUNT(*) FROM orders GROUP BY channel"),
    Case(
        "how many products in each category",
        "SELECT category, COUNT(*) FROM products GROUP BY category",
    ),
    Case(
        "number of customers per segment",
        "SELECT segment, COUNT(*) FROM customers GROUP BY segment",
    ),
    Case("customers by country and segment", "SELECT DISTINCT country, segment FROM customers"),
    Case(
        "average price per category", "SELECT category, AVG(price) FROM products GROUP BY category"
    ),
    Case(
        "avrage price of electronics products",
        "SELECT AVG(price) FROM products WHERE category = 'Electronics'",
    ),
    Case("maximum weight of products", "SELECT MAX(weight_kg) FROM products"),
    Case(
        "minimum price in the Books category",
        "SELECT MIN(price) FROM products WHERE category = 'Books'",
    ),
    Case("what is the total revenue", "SELECT SUM(amount) FROM orders"),
    Case(
        "total revenu by country",
        f"SELECT c.country, SUM(o.amount) {ORDERS_CUSTOMERS} GROUP BY c.country",
    ),
    Case(
        "sales per category",
        f"SELECT p.category, SUM(o.amount) {ORDERS_PRODUCTS} GROUP BY p.category",
    ),
    Case(
        "total quantity by category",
        f"SELECT p.category, SUM(o.quantity) {ORDERS_PRODUCTS} GROUP BY p.category",
    ),
    Case(
        "revenue by category and country",
        "SELECT p.category, c.country, SUM(o.amount) FROM orders o "
        "JOIN customers c ON o.customer_id = c.customer_id "
        "JOIN products p ON o.product_id = p.product_id GROUP BY p.category, c.country",
    ),
    Case(
        "average order amount in Germany",
        f"SELECT AVG(o.amount) {ORDERS_CUSTOMERS} WHERE c.country = 'Germany'",
    ),
    Case(
        "total spend per customer segment",
        f"SELECT c.segment, SUM(o.amount) {ORDERS_CUSTOMERS} GROUP BY c.segment",
    ),
    Case(
        "revenue by country for orders that are not cancelled",
        f"SELECT c.country, SUM(o.amount) {ORDERS_CUSTOMERS} WHERE o.status != 'cancelled' "
        "GROUP BY c.country",
    ),
    Case(
        "number of orders by country",
        f"SELECT c.country, COUNT(*) {ORDERS_CUSTOMERS} GROUP BY c.country",
    ),
    Case(
        "average quantity per channel", "SELECT channel, AVG(quantity) FROM orders GROUP BY channel"
    ),
    # Compare
    Case(
        "compare revenue by segment",
        f"SELECT c.segment, SUM(o.amount) {ORDERS_CUSTOMERS} GROUP BY c.segment ORDER BY c.segment",
        ordered=True,
    ),
    Case(
        "compare average price across categories",
        "SELECT category, AVG(price) FROM products GROUP BY category ORDER BY category",
        ordered=True,
    ),
    Case(
        "compare the number of orders by channel",
        "SELECT channel, COUNT(*) FROM orders GROUP BY channel ORDER BY channel",
        ordered=True,
    ),
    # Dates
    Case("how many orders in 2024", f"SELECT COUNT(*) FROM orders o WHERE {Y2024}"),
    Case(
        "how many orders were placed in March 2024",
        "SELECT COUNT(*) FROM orders WHERE order_date >= '2024-03-01' "
        "AND order_date < '2024-04-01'",
    ),
    Case(
        "revenue since March 2024",
        "SELECT SUM(amount) FROM orders WHERE order_date >= '2024-03-01'",
    ),
    Case(
        "total sales before 2024", "SELECT SUM(amount) FROM orders WHERE order_date < '2024-01-01'"
    ),
    Case(
        "orders between January 2024 and March 2024",
        "SELECT * FROM orders WHERE order_date >= '2024-01-01' AND order_date < '2024-04-01'",
    ),
    Case(
        "how many orders between 2023 and 2024",
        "SELECT COUNT(*) FROM orders WHERE order_date >= '2023-01-01' "
        "AND order_date < '2025-01-01'",
    ),
    Case(
        "count of orders per channel in 2023",
        "SELECT channel, COUNT(*) FROM orders WHERE order_date >= '2023-01-01' "
        "AND order_date < '2024-01-01' GROUP BY channel",
    ),
    Case(
        "how many customers signed up in 2023",
        "SELECT COUNT(*) FROM customers WHERE signup_date >= '2023-01-01' "
        "AND signup_date < '2024-01-01'",
    ),
    Case(
        "customers who joined since 2024-06-01",
        "SELECT * FROM customers WHERE signup_date >= '2024-06-01'",
    ),
    Case(
        "yearly revenue",
        "SELECT CAST(strftime('%Y', order_date) AS INTEGER) y, SUM(amount) FROM orders "
        "GROUP BY y ORDER BY y",
        ordered=True,
    ),
    Case(
        "monthly revenue in 2024",
        "SELECT date(order_date, 'start of month') m, SUM(amount) FROM orders o "
        f"WHERE {Y2024} GROUP BY m ORDER BY m",
        ordered=True,
    ),
    Case(
        "how many orders per year",
        "SELECT CAST(strftime('%Y', order_date) AS INTEGER) y, COUNT(*) FROM orders "
        "GROUP BY y ORDER BY y",
        ordered=True,
    ),
    Case(
        "revenue per channel in 2024",
        f"SELECT channel, SUM(amount) FROM orders o WHERE {Y2024} GROUP BY channel",
    ),
    Case(
        "how many customers ordered in 2024",
        f"SELECT COUNT(DISTINCT o.customer_id) FROM orders o WHERE {Y2024}",
    ),
    Case(
        "how many different products were sold in 2025",
        "SELECT COUNT(DISTINCT product_id) FROM orders WHERE order_date >= '2025-01-01' "
        "AND order_date < '2026-01-01'",
    ),
    # Comparisons, ranges, unit words
    Case("orders over $1k", "SELECT * FROM orders WHERE amount > 1000"),
    Case(
        "how many orders over 2 thousand dollars", "SELECT COUNT(*) FROM orders WHERE amount > 2000"
    ),
    Case("products heavier than 10 kg", "SELECT * FROM products WHERE weight_kg > 10"),
    Case(
        "how many products weigh less than 1 kg",
        "SELECT COUNT(*) FROM products WHERE weight_kg < 1",
    ),
    Case(
        "how many products cost more than $500", "SELECT COUNT(*) FROM products WHERE price > 500"
    ),
    Case("products under 20 dollars", "SELECT * FROM products WHERE price < 20"),
    Case(
        "products with price between 100 and 200 dollars",
        "SELECT * FROM products WHERE price >= 100 AND price <= 200",
    ),
    Case("orders with quantity at least 4", "SELECT * FROM orders WHERE quantity >= 4"),
    Case("how many orders with a quantity of 5", "SELECT COUNT(*) FROM orders WHERE quantity = 5"),
    # Listing and joins
    Case("list customers in Berlin", "SELECT * FROM customers WHERE city = 'Berlin'"),
    Case(
        "names and emails of customers in Paris or Lyon",
        "SELECT name, email FROM customers WHERE city IN ('Paris', 'Lyon')",
    ),
    Case(
        "customers whose name contains 'Smith'", "SELECT * FROM customers WHERE name LIKE '%Smith%'"
    ),
    Case("list products in the Toys category", "SELECT * FROM products WHERE category = 'Toys'"),
    Case(
        "orders from customers in Spain", f"SELECT o.* {ORDERS_CUSTOMERS} WHERE c.country = 'Spain'"
    ),
    Case(
        "orders of electronics products in 2025 over $2k",
        f"SELECT o.* {ORDERS_PRODUCTS} WHERE p.category = 'Electronics' "
        "AND o.order_date >= '2025-01-01' AND o.order_date < '2026-01-01' AND o.amount > 2000",
    ),
    # Order and top-k
    Case(
        "top 5 products by revenue",
        f"SELECT p.product_id, p.name, SUM(o.amount) s {ORDERS_PRODUCTS} "
        "GROUP BY p.product_id, p.name ORDER BY s DESC, p.product_id, p.name LIMIT 5",
        ordered=True,
    ),
    Case(
        "top 3 countries by revenue",
        f"SELECT c.country, SUM(o.amount) s {ORDERS_CUSTOMERS} GROUP BY c.country "
        "ORDER BY s DESC, c.country LIMIT 3",
        ordered=True,
    ),
    Case(
        "top 3 customers by number of orders",
        f"SELECT c.customer_id, c.name, COUNT(*) n {ORDERS_CUSTOMERS} "
        "GROUP BY c.customer_id, c.name ORDER BY n DESC, c.customer_id, c.name LIMIT 3",
        ordered=True,
    ),
    Case(
        "top 10 customers by total spend",
        f"SELECT c.customer_id, c.name, SUM(o.amount) s {ORDERS_CUSTOMERS} "
        "GROUP BY c.customer_id, c.name ORDER BY s DESC, c.customer_id, c.name LIMIT 10",
        ordered=True,
    ),
    Case(
        "top 5 cities by number of customers",
        "SELECT city, COUNT(*) n FROM customers GROUP BY city ORDER BY n DESC, city LIMIT 5",
        ordered=True,
    ),
    Case(
        "the 3 most expensive products",
        "SELECT * FROM products ORDER BY price DESC, product_id LIMIT 3",
        ordered=True,
    ),
    Case(
        "the 5 largest orders",
        "SELECT * FROM orders ORDER BY amount DESC, order_id LIMIT 5",
        ordered=True,
    ),
    Case(
        "cheapest product",
        "SELECT * FROM products ORDER BY price, product_id LIMIT 1",
        ordered=True,
    ),
    Case(
        "which product is the most expensive",
        "SELECT * FROM products ORDER BY price DESC, product_id LIMIT 1",
        ordered=True,
    ),
    Case(
        "which country has the most customers",
        "SELECT country, COUNT(*) n FROM customers GROUP BY country "
        "ORDER BY n DESC, country LIMIT 1",
        ordered=True,
    ),
    Case(
        "which category has the highest revenue",
        f"SELECT p.category, SUM(o.amount) s {ORDERS_PRODUCTS} GROUP BY p.category "
        "ORDER BY s DESC, p.category LIMIT 1",
        ordered=True,
    ),
    Case(
        "which segment has the highest average order amount",
        f"SELECT c.segment, AVG(o.amount) a {ORDERS_CUSTOMERS} GROUP BY c.segment "
        "ORDER BY a DESC, c.segment LIMIT 1",
        ordered=True,
    ),
    Case(
        "products sorted by price descending",
        "SELECT * FROM products ORDER BY price DESC",
        ordered=True,
    ),
    Case(
        "customers in Rome sorted by name",
        "SELECT * FROM customers WHERE city = 'Rome' ORDER BY name, customer_id",
        ordered=True,
    ),
    Case(
        "bottom 3 products by revenue",
        f"SELECT p.product_id, p.name, SUM(o.amount) s {ORDERS_PRODUCTS} "
        "GROUP BY p.product_id, p.name ORDER BY s, p.product_id, p.name LIMIT 3",
        ordered=True,
    ),
    Case(
        "the 5 newest orders",
        "SELECT * FROM orders ORDER BY order_date DESC, order_id LIMIT 5",
        ordered=True,
    ),
    Case(
        "latest order",
        "SELECT * FROM orders ORDER BY order_date DESC, order_id LIMIT 1",
        ordered=True,
    ),
    Case(
        "how many products per category sorted by number of products descending",
        "SELECT category, COUNT(*) n FROM products GROUP BY category ORDER BY n DESC, category",
        ordered=True,
    ),
    Case(
        "revenue by country sorted by revenue descending",
        f"SELECT c.country, SUM(o.amount) s {ORDERS_CUSTOMERS} GROUP BY c.country "
        "ORDER BY s DESC, c.country",
        ordered=True,
    ),
    Case("orders after 2024", "SELECT * FROM orders WHERE order_date >= '2025-01-01'"),
    Case(
        "how many orders until June 2024",
        "SELECT COUNT(*) FROM orders WHERE order_date < '2024-07-01'",
    ),
    Case('products whose name starts with "Eco"', "SELECT * FROM products WHERE name LIKE 'Eco%'"),
    Case(
        "quarterly revenue",
        "SELECT date(order_date, 'start of month', '-' || ((CAST(strftime('%m', order_date) "
        "AS INTEGER) - 1) % 3) || ' months') q, SUM(amount) "
        "FROM orders GROUP BY q ORDER BY q",
        ordered=True,
    ),
    Case("how many orders over 1,000 euros", "SELECT COUNT(*) FROM orders WHERE amount > 1000"),
    Case(
        "how many clients are in the Consumer segment",
        "SELECT COUNT(*) FROM customers WHERE segment = 'Consumer'",
    ),
    Case(
        "total units by category",
        f"SELECT p.category, SUM(o.quantity) {ORDERS_PRODUCTS} GROUP BY p.category",
    ),
    Case(
        "what is the average price of toys",
        "SELECT AVG(price) FROM products WHERE category = 'Toys'",
    ),
    Case(
        "list the name and price of products in Home",
        "SELECT name, price FROM products WHERE category = 'Home'",
    ),
    Case(
        "emails of customers who ordered in 2025",
        f"SELECT DISTINCT c.email {ORDERS_CUSTOMERS} WHERE o.order_date >= '2025-01-01' "
        "AND o.order_date < '2026-01-01'",
    ),
    Case(
        "revenue per customer",
        f"SELECT c.customer_id, c.name, SUM(o.amount) {ORDERS_CUSTOMERS} "
        "GROUP BY c.customer_id, c.name",
    ),
]

# Questions outside the catalog or the grammar: must be refused, never answered.
NOT_UNDERSTOOD = [
    "how many employees are there",
    "average salary by department",
    "flurb the blorp",
    "show me the weather in Paris",
    "what is the revenue forecast for next year",
    "customers who churned last month",
    "how many orders will we get tomorrow",
    "list the suppliers",
    "revenue per employee",
    "how many customers are not",
    "top products by",
    "average email by country",
]

INJECTIONS = [
    "show customers named x'; DROP TABLE customers; --",
    "customers whose name contains 'x'; DELETE FROM orders; --'",
    "list customers /* */ union select * from products",
    "how many orders -- where 1=1",
    "count customers; SELECT pg_read_file('/etc/passwd')",
    "revenue by country\\; drop table orders",
    "customers whose name contains '%' OR 1=1",
    "select pg_read_file('/etc/passwd') from customers",
    "customers whose name contains 'a'' OR ''1''=''1'",
    "customers whose name contains \"x' OR '1'='1\"",
    'customers whose name starts with "DROP TABLE customers"',
]
RAW_SQL = {
    "SELECT * FROM customers WHERE name = ''; DROP TABLE customers; --'": "sql_multiple_statements",
    "SELECT * FROM customers; DROP TABLE customers": "sql_multiple_statements",
    "SELECT pg_read_file('/etc/passwd')": "sql_invalid",  # no such function in the engine
    "SELECT pg_read_file('/etc/passwd') FROM customers": "sql_invalid",
    "SELECT getenv('HOME') FROM customers": "sql_function_not_allowed",
    "SELECT * FROM glob('/etc/*')": "sql_function_not_allowed",
    "SELECT * FROM read_csv('/etc/passwd')": "sql_function_not_allowed",
    "SELECT load_extension('x') FROM customers": "sql_function_not_allowed",
    "DROP TABLE customers": "sql_not_read_only",
    "DELETE FROM customers": "sql_not_read_only",
    "INSERT INTO customers SELECT * FROM customers": "sql_not_read_only",
    "UPDATE customers SET name = 'x'": "sql_not_read_only",
    "CREATE TABLE x AS SELECT * FROM customers": "sql_not_read_only",
    "SELECT * INTO x FROM customers": "sql_not_read_only",
    "SELECT * FROM customers UNION SELECT * FROM secrets": "table_not_found",
    "SELECT * FROM information_schema.tables": "table_not_found",
    "SELEC * FROM customers": "sql_invalid",
}


@pytest.fixture(scope="module")
def catalog() -> PromptCatalog:
    return shop_catalog()


@pytest.fixture(scope="module")
def tables() -> dict[Any, pa.Table]:
    ids = shop_ids()
    return {ids[name]: table for name, table in load_shop().items()}


@pytest.fixture(scope="module")
def sqlite() -> Iterator[sqlite3.Connection]:
    db = shop_sqlite()
    yield db
    db.close()


def shop_sqlite() -> sqlite3.Connection:
    """The same CSVs in SQLite: integers, reals and text (dates as ISO text)."""
    db = sqlite3.connect(":memory:")
    shop = load_shop()
    for name in SHOP_TABLES:
        schema = shop[name].schema
        kinds = {
            f.name: "INTEGER"
            if pa.types.is_integer(f.type)
            else "REAL"
            if pa.types.is_floating(f.type)
            else "TEXT"
            for f in schema
        }
        db.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in kinds.items())})")
        with (SHOP_DIR / f"{name}.csv").open() as rows:
            reader = csv.reader(rows)
            next(reader)
            db.executemany(
                f"INSERT INTO {name} VALUES ({', '.join('?' * len(kinds))})", list(reader)
            )
    return db


def _cell(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _rows(rows: list[tuple[Any, ...]], ordered: bool) -> list[tuple[Any, ...]]:
    rows = [tuple(_cell(v) for v in row) for row in rows]
    if ordered:
        return rows
    return sorted(
        rows,
        key=lambda r: tuple(
            (v is None, str(round(v, 2)) if isinstance(v, float) else str(v)) for v in r
        ),
    )


def _same(got: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> bool:
    if len(got) != len(expected):
        return False
    for a, b in zip(got, expected, strict=True):
        if len(a) != len(b):
            return False
        for x, y in zip(a, b, strict=True):
            if isinstance(x, int | float) and isinstance(y, int | float):
                if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6):
                    return False
            elif x != y:
                return False
    return True


def answer(question: str, catalog: PromptCatalog, tables: dict[Any, pa.Table]) -> Any:
    intent = translate(question, catalog)
    if isinstance(intent, NotUnderstood):
        return intent
    assert isinstance(intent, QueryIntent), (question, intent)
    compiled = compile_sql(intent.sql, catalog)
    table = run_compiled(compiled, tables)
    return intent, [tuple(row.values()) for row in table.to_pylist()]


def test_corpus_is_answered_exactly_or_refused(
    catalog: PromptCatalog, tables: dict[Any, pa.Table], sqlite: sqlite3.Connection
) -> None:
    assert len(CORPUS) >= 60
    exact, refused, wrong = [], [], []
    for case in CORPUS:
        expected = _rows(sqlite.execute(case.sql).fetchall(), case.ordered)
        assert expected, f"the expected answer of {case.question!r} is empty"
        found = answer(case.question, catalog, tables)
        if isinstance(found, NotUnderstood):
            refused.append((case.question, found.message))
            continue
        intent, rows = found
        if _same(_rows(rows, case.ordered), expected):
            exact.append(case.question)
        else:
            wrong.append((case.question, intent.sql, rows[:3], expected[:3]))
    assert not wrong, f"answers presented as right but wrong: {wrong}"
    assert len(exact) >= 0.9 * len(CORPUS), f"{len(exact)}/{len(CORPUS)}; refused: {refused}"


@pytest.mark.parametrize("question", NOT_UNDERSTOOD)
def test_out_of_grammar_is_not_understood(question: str, catalog: PromptCatalog) -> None:
    intent = translate(question, catalog)
    assert isinstance(intent, NotUnderstood), (question, intent)
    assert intent.message


def test_not_understood_names_the_words(catalog: PromptCatalog) -> None:
    intent = translate("average salary by department", catalog)
    assert isinstance(intent, NotUnderstood)
    assert set(intent.unknown) == {"salary", "department"}


@pytest.mark.parametrize("prompt", INJECTIONS)
def test_smuggled_sql_is_refused_or_neutralized(
    prompt: str, catalog: PromptCatalog, tables: dict[Any, pa.Table]
) -> None:
    intent = translate(prompt, catalog)
    if isinstance(intent, NotUnderstood):
        return
    # Read as a question: the text can only be a value, compared as text, in one SELECT.
    assert isinstance(intent, QueryIntent), intent
    compiled = compile_sql(intent.sql, catalog)
    quoted = prompt.split('"')[1]
    # One condition, the quoted text as one string literal in it.
    assert len(compiled.conditions) == 1, compiled.conditions
    literals = [
        node.this
        for node in sqlglot.parse_one(compiled.conditions[0], read="duckdb").walk()
        if isinstance(node, sqlglot.exp.Literal) and node.is_string
    ]
    assert any(quoted in text for text in literals), (literals, quoted)
    assert run_compiled(compiled, tables).num_rows == 0


@pytest.mark.parametrize(("sql", "code"), list(RAW_SQL.items()))
def test_compile_sql_refuses_raw_injections(sql: str, code: str, catalog: PromptCatalog) -> None:
    with pytest.raises(RiverGenError) as raised:
        compile_sql(sql, catalog)
    assert isinstance(raised.value, BadRequest | ValidationFailed)
    assert raised.value.error_code == code


def test_the_other_intents(catalog: PromptCatalog) -> None:
    assert translate("describe customers", catalog).model_dump()["table"] == "customers"
    assert translate("profile the orders dataset", catalog).kind == "profile"
    found = translate("which datasets mention churn", catalog)
    assert found.kind == "find_datasets" and found.model_dump()["terms"] == ["churn"]
    job = translate("run pagerank on orders", catalog).model_dump()
    assert (job["kind"], job["job_kind"], job["table"]) == ("start_job", "pagerank", "orders")
    policy = translate("mask email in customers for viewers", catalog).model_dump()["policy"]
    assert policy["dataset"] == "customers" and policy["roles"] == ["viewer"]
    assert policy["rule"] == {"type": "mask", "columns": ["email"], "method": "redact"}
    assert translate("delete dataset orders", catalog).model_dump() == {
        "kind": "delete_dataset",
        "table": "orders",
        "understood": ["delete: the dataset orders (needs a confirmation)"],
    }
    assert translate("delete everything", catalog).kind == "not_understood"
    saved = translate("customers in Berlin and save as berlin_customers", catalog)
    assert isinstance(saved, QueryIntent) and saved.save_as == "berlin_customers"


WORDS = [
    "how",
    "many",
    "customers",
    "orders",
    "products",
    "in",
    "by",
    "per",
    "top",
    "3",
    "5",
    "most",
    "least",
    "highest",
    "lowest",
    "cheapest",
    "revenue",
    "sales",
    "total",
    "average",
    "max",
    "min",
    "price",
    "amount",
    "quantity",
    "weight",
    "kg",
    "$1k",
    "2024",
    "March",
    "since",
    "before",
    "after",
    "between",
    "and",
    "or",
    "not",
    "Germany",
    "Berlin",
    "shipped",
    "cancelled",
    "web",
    "category",
    "country",
    "city",
    "segment",
    "distinct",
    "unique",
    "which",
    "what",
    "is",
    "the",
    "of",
    "sorted",
    "descending",
    "compare",
    "year",
    "monthly",
    "with",
    "over",
    "under",
    "at",
    "least",
    "more",
    "than",
    "names",
    "emails",
    "each",
    "ordered",
    "signed",
    "up",
    "10",
    "bottom",
    "latest",
    "'x'",
    "contains",
    "named",
]


def test_any_words_give_sql_that_compiles_or_a_refusal(
    catalog: PromptCatalog, tables: dict[Any, pa.Table]
) -> None:
    """Word salad from the grammar's own words: never a crash, and every SQL the provider
    writes is accepted by compile_sql and runs."""
    rng = random.Random(7)
    for _ in range(600):
        question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))
        intent = translate(question, catalog)
        if isinstance(intent, QueryIntent):
            run_compiled(compile_sql(intent.sql, catalog), tables)


def test_another_catalog_northwind_camel_case_names() -> None:
    """Names as another source writes them (`unitPrice`, `categoryID`): read as words, keys
    discovered by name, identifiers quoted in the SQL."""
    northwind = SHARED_DATA / "northwind"
    shop = {
        "products": pacsv.read_csv(northwind / "products.csv"),
        "categories": pacsv.read_csv(northwind / "categories.csv").drop(["picture"]),
    }
    ids = {name: uuid.uuid4() for name in shop}
    catalog = PromptCatalog(
        tables=[
            CatalogTable(
                dataset_id=ids[name],
                version=1,
                name=name,
                columns=[
                    CatalogColumn(
                        name=c,
                        type=str(t.schema.field(c).type),
                        values=sorted(set(t[c].to_pylist())) if c == "categoryName" else [],
                    )
                    for c in t.column_names
                ],
            )
            for name, t in shop.items()
        ]
    )
    data = {ids[name]: table for name, table in shop.items()}
    categories = dict(
        zip(
            shop["categories"]["categoryID"].to_pylist(),
            shop["categories"]["categoryName"].to_pylist(),
            strict=True,
        )
    )
    products = shop["products"].to_pylist()

    def ask(question: str) -> list[dict[str, Any]]:
        intent = translate(question, catalog)
        assert isinstance(intent, QueryIntent), intent
        return run_compiled(compile_sql(intent.sql, catalog), data).to_pylist()

    beverages = [p for p in products if categories[p["categoryID"]] == "Beverages"]
    assert ask("how many products in Beverages") == [{"number_of_products": len(beverages)}]
    got = ask("average unit price by category name")
    assert [r["categoryName"] for r in got] == sorted(categories.values())
    cheap = sorted(p["productID"] for p in products if p["unitsInStock"] < 10)
    assert sorted(r["productID"] for r in ask("products with units in stock under 10")) == cheap
    per_category = Counter(categories[p["categoryID"]] for p in products)
    top = ask("which category has the most products")
    assert [(r["categoryName"], r["number_of_products"]) for r in top] == [
        per_category.most_common(1)[0]
    ]


def test_a_workspace_without_datasets_gets_a_plain_answer() -> None:
    # No catalog at all: nothing to read, said plainly rather than failing.
    intent = translate("how many customers are there", PromptCatalog())
    assert isinstance(intent, NotUnderstood) and "customers" in " ".join(intent.unknown)
