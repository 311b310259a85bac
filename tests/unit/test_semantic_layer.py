"""The semantic layer without servers: the automatic draft's rules, the checks on the engine,
the layer applied to the prompt catalog, the built-in provider's measures and the model's
prompt."""

from __future__ import annotations

import uuid

import pytest

from rivergen.agents.prompt_studio.openai import catalog_text
from rivergen.errors import ValidationFailed
from rivergen.semantic.catalog import apply_layer
from rivergen.semantic.draft import draft_layer, merged
from rivergen.semantic.schemas import Measure, SemanticLayer, VerifiedQuery
from rivergen.semantic.validate import kept_valid, validate
from rivergen.services.planning.builtin import translate
from rivergen.services.planning.catalog import CatalogColumn, CatalogTable, PromptCatalog
from rivergen.services.planning.intents import NotUnderstood, QueryIntent
from rivergen.services.planning.measures import MeasureError, measure_sql

REVENUE = "unitPrice * quantity * (1 - discount)"


def table(name: str, *columns: tuple[str, str]) -> CatalogTable:
    return CatalogTable(
        dataset_id=uuid.uuid4(),
        version=1,
        name=name,
        columns=[CatalogColumn(name=n, type=t) for n, t in columns],
    )


CATALOG = PromptCatalog(
    tables=[
        table(
            "products",
            ("productID", "int64"),
            ("productName", "string"),
            ("unitPrice", "double"),
            ("discontinued", "int64"),
        ),
        table(
            "order_details",
            ("orderID", "int64"),
            ("productID", "int64"),
            ("unitPrice", "double"),
            ("quantity", "int64"),
            ("discount", "double"),
        ),
        table("customers", ("id", "int64"), ("is_active", "string"), ("signed_up", "date32[day]")),
        table("orders", ("id", "int64"), ("customer_id", "int64"), ("orderDate", "timestamp[ns]")),
    ]
)
PROFILES = {
    "products": {
        "columns": [
            {
                "name": "discontinued",
                "count": 77,
                "distinct_count": 2,
                "top_values": [{"value": 0, "count": 69}, {"value": 1, "count": 8}],
            }
        ]
    },
    "customers": {
        "columns": [
            {
                "name": "is_active",
                "count": 9,
                "distinct_count": 2,
                "top_values": [{"value": "Yes", "count": 6}, {"value": "No", "count": 3}],
            }
        ]
    },
}


def column(layer: SemanticLayer, dataset: str, name: str) -> tuple[str, str, list[str], list[str]]:
    found = next(d for d in layer.datasets if d.name == dataset)
    c = next(c for c in found.columns if c.name == name)
    return c.business_name, c.role, c.true_values, c.false_values


def test_the_draft_splits_names_and_finds_roles_measures_and_keys() -> None:
    layer = draft_layer(CATALOG, PROFILES)
    assert column(layer, "products", "unitPrice") == ("unit price", "measure_source", [], [])
    assert column(layer, "products", "discontinued") == ("discontinued", "boolean", ["1"], ["0"])
    assert column(layer, "customers", "is_active") == ("is active", "boolean", ["Yes"], ["No"])
    assert column(layer, "orders", "orderDate")[:2] == ("order date", "time_dimension")
    assert column(layer, "customers", "signed_up")[1] == "time_dimension"
    assert column(layer, "orders", "customer_id")[1] == "identifier"
    assert column(layer, "products", "productName")[1] == "dimension"
    keys = {(r.from_dataset, r.from_column, r.to_dataset, r.to_column) for r in layer.relationships}
    assert keys == {
        ("order_details", "productID", "products", "productID"),
        ("order_details", "orderID", "orders", "id"),
        ("orders", "customer_id", "customers", "id"),
    }
    measures = {m.name: (m.dataset, m.expression, m.aggregation) for m in layer.measures}
    assert measures == {
        "average_products_unit_price": ("products", "unitPrice", "avg"),
        "average_order_details_unit_price": ("order_details", "unitPrice", "avg"),
        "total_quantity": ("order_details", "quantity", "sum"),
        "average_discount": ("order_details", "discount", "avg"),
        # of several columns: price x quantity, less the discount
        "revenue": ("order_details", "unitPrice * quantity * (1 - discount)", "sum"),
    }
    # Without a profile a 0/1 column is only a number.
    assert column(draft_layer(CATALOG, {}), "products", "discontinued")[1] == "measure_source"
    validate(layer, CATALOG)


def test_a_new_draft_keeps_what_people_wrote() -> None:
    first = draft_layer(CATALOG, PROFILES)
    products = first.datasets[0].model_copy(update={"synonyms": ["merchandise"]})
    edited = first.model_copy(
        update={
            "datasets": [products, *first.datasets[1:]],
            "measures": [Measure(name="revenue", dataset="order_details", expression=REVENUE)],
            "verified_queries": [VerifiedQuery(question="q", sql="SELECT 1 FROM products")],
        }
    )
    again = merged(draft_layer(CATALOG, PROFILES), edited)
    assert again.datasets[0].synonyms == ["merchandise"]
    assert [m.name for m in again.measures] == ["revenue"]
    assert again.verified_queries == edited.verified_queries
    # A dataset gone from the catalog takes its entries with it.
    smaller = PromptCatalog(tables=[t for t in CATALOG.tables if t.name != "order_details"])
    kept = kept_valid(again, smaller)
    assert "order_details" not in {d.name for d in kept.datasets}
    assert kept.measures == [] and kept.verified_queries == again.verified_queries


@pytest.mark.parametrize(
    ("measure", "expected"),
    [
        (Measure(name="m", dataset="products", expression="unitPrice * weight"), "weight"),
        (Measure(name="m", dataset="products", expression="sum(unitPrice)"), "aggregate already"),
        (
            Measure(name="m", dataset="products", expression="unitPrice", aggregation="none"),
            "must be an aggregate",
        ),
        (Measure(name="m", dataset="products", expression="(SELECT 1)"), "not a query"),
        (Measure(name="m", dataset="products", expression="getenv('HOME')"), "getenv"),
        (Measure(name="m", dataset="suppliers", expression="1"), "no dataset"),
    ],
)
def test_a_measure_that_does_not_hold_is_refused(measure: Measure, expected: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate(SemanticLayer(measures=[measure]), CATALOG)
    assert caught.value.error_code == "semantic_invalid"
    assert expected in caught.value.message and caught.value.details["where"] == "measures[0]"


def test_measure_sql_qualifies_columns_and_refuses_queries() -> None:
    assert measure_sql(REVENUE, "sum", table="order_details") == (
        "SUM(order_details.unitPrice * order_details.quantity * (1 - order_details.discount))"
    )
    assert measure_sql("id", "count_distinct", table="Order") == 'COUNT(DISTINCT "Order".id)'
    assert measure_sql("SUM(a) / COUNT(*)", "none") == "SUM(a) / COUNT(*)"
    with pytest.raises(MeasureError):
        measure_sql("a FROM t", "sum")


def confirmed() -> PromptCatalog:
    layer = draft_layer(CATALOG, PROFILES)
    products = layer.datasets[0].model_copy(update={"synonyms": ["merchandise"]})
    layer = layer.model_copy(
        update={
            "datasets": [products, *layer.datasets[1:]],
            "measures": [
                Measure(
                    name="revenue", dataset="order_details", expression=REVENUE, synonyms=["sales"]
                )
            ],
            "verified_queries": [
                VerifiedQuery(
                    question="which products are discontinued",
                    sql="SELECT productName FROM products WHERE discontinued = 1",
                )
            ],
        }
    )
    validate(layer, CATALOG)
    return apply_layer(CATALOG, layer, 3)


def test_the_builtin_provider_answers_with_the_layer() -> None:
    catalog = confirmed()
    total = translate("total revenue", catalog)
    assert isinstance(total, QueryIntent)
    assert total.sql == (
        "SELECT SUM(order_details.unitPrice * order_details.quantity * "
        "(1 - order_details.discount)) AS revenue FROM order_details"
    )
    grouped = translate("sales by product name", catalog)
    assert isinstance(grouped, QueryIntent)
    assert 'JOIN products ON order_details."productID" = products."productID"' in grouped.sql
    assert 'GROUP BY products."productName"' in grouped.sql
    assert isinstance(translate("how many merchandise", catalog), QueryIntent)
    # Without the layer none of it is known.
    assert isinstance(translate("total revenue", CATALOG), NotUnderstood)
    assert isinstance(translate("how many merchandise", CATALOG), NotUnderstood)


def test_the_models_prompt_has_the_layer_and_its_verified_queries() -> None:
    text = catalog_text(confirmed())
    assert '"unit price"' in text and "merchandise" in text
    assert 'discontinued int64 ["discontinued"; boolean; true=1; false=0]' in text
    assert "revenue [also: sales] = SUM(unitPrice * quantity * (1 - discount))" in text
    assert "order_details.productID = products.productID" in text
    assert "Q: which products are discontinued\nSQL: SELECT productName FROM products" in text
