"""The shop sample: customers, products and orders as Arrow tables, and their prompt catalog.

Used by the natural-language corpus, the prompt benchmark and demos. The CSVs are written by
:mod:`rivergen.samples.generate` (seeded) and shipped as package data.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from rivergen.services.planning.catalog import (
    CatalogColumn,
    CatalogKey,
    CatalogTable,
    PromptCatalog,
)

SHOP_DIR = Path(__file__).resolve().parent / "shop"
SHOP_TABLES: tuple[str, ...] = ("customers", "products", "orders")
# Columns of at most this many distinct strings get a `values` hint in the catalog.
VALUES_HINT_LIMIT = 30

_DESCRIPTIONS = {
    "customers": "People and companies who buy from the shop.",
    "products": "What the shop sells, with its category, price and weight.",
    "orders": "One product bought by one customer on one day.",
}


def load_shop() -> dict[str, pa.Table]:
    """The three tables by name (`customers`, `products`, `orders`)."""
    return {name: pacsv.read_csv(SHOP_DIR / f"{name}.csv") for name in SHOP_TABLES}


def shop_ids() -> dict[str, uuid.UUID]:
    """Stable dataset ids for the sample's tables (a uuid5 of the name)."""
    return {name: uuid.uuid5(uuid.NAMESPACE_URL, f"rivergen-sample:{name}") for name in SHOP_TABLES}


def _column(table: pa.Table, name: str) -> CatalogColumn:
    column = table.column(name)
    values: list[str] = []
    if pa.types.is_string(column.type):
        distinct = pc.unique(column).drop_null()
        if len(distinct) <= VALUES_HINT_LIMIT:
            values = sorted(str(v) for v in distinct.to_pylist())
    return CatalogColumn(name=name, type=str(column.type), values=values)


def shop_catalog(
    ids: Mapping[str, uuid.UUID] | None = None, tables: Mapping[str, pa.Table] | None = None
) -> PromptCatalog:
    """The prompt catalog of the sample: its tables under ``ids`` (default :func:`shop_ids`),
    version 1, with value hints for low-cardinality string columns and the declared keys."""
    ids = ids or shop_ids()
    tables = tables or load_shop()
    return PromptCatalog(
        tables=[
            CatalogTable(
                dataset_id=ids[name],
                version=1,
                name=name,
                description=_DESCRIPTIONS[name],
                tags=["sample", "shop"],
                columns=[_column(tables[name], c) for c in tables[name].column_names],
                row_count=tables[name].num_rows,
            )
            for name in SHOP_TABLES
        ],
        keys=[
            CatalogKey(table="orders", column=key, ref_table=ref, ref_column=key)
            for key, ref in (("customer_id", "customers"), ("product_id", "products"))
        ],
    )
