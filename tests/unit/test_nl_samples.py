"""The shop sample is what its seeded generator writes, and its catalog knows its keys."""

from __future__ import annotations

from pathlib import Path

from rivergen.samples import SHOP_DIR, SHOP_TABLES, load_shop, shop_catalog, shop_ids
from rivergen.samples.generate import write_shop


def test_the_committed_csvs_are_the_generator_output(tmp_path: Path) -> None:
    write_shop(tmp_path)
    for name in SHOP_TABLES:
        assert (tmp_path / f"{name}.csv").read_bytes() == (SHOP_DIR / f"{name}.csv").read_bytes()


def test_tables_and_catalog() -> None:
    tables = load_shop()
    assert {n: t.num_rows for n, t in tables.items()} == {
        "customers": 400,
        "products": 56,
        "orders": 3000,
    }
    catalog = shop_catalog()
    assert [t.dataset_id for t in catalog.tables] == [shop_ids()[n] for n in SHOP_TABLES]
    orders = catalog.table("orders")
    assert orders is not None
    types = {c.name: c.type for c in orders.columns}
    assert types["order_date"] == "date32[day]" and types["amount"] == "double"
    assert {c.name: c.values for c in orders.columns}["status"] == [
        "cancelled",
        "delivered",
        "pending",
        "returned",
        "shipped",
    ]
    assert {(k.table, k.column, k.ref_table) for k in catalog.keys} == {
        ("orders", "customer_id", "customers"),
        ("orders", "product_id", "products"),
    }
    customer_ids = set(tables["customers"].column("customer_id").to_pylist())
    assert set(tables["orders"].column("customer_id").to_pylist()) <= customer_ids
