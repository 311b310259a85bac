"""The built-in provider on tables built here (a library and a shop's order lines): behaviours
that must hold on any catalog, each asked in words no evaluation set uses.

Each question is answered exactly (values computed here from the rows) or refused; a wrong
answer fails.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from rivergen.services.execution.sql import compile_sql, run_compiled
from rivergen.services.planning.builtin import translate
from rivergen.services.planning.catalog import CatalogColumn, CatalogTable, PromptCatalog
from rivergen.services.planning.intents import NotUnderstood, QueryIntent

BOOKS = pa.table(
    {
        "bookId": [1, 2, 3, 4, 5, 6],
        "bookTitle": ["Dune", "Emma", "Ulysses", "Hamlet", "Walden", "Ivanhoe"],
        "genreId": [1, 2, 2, 3, 1, 2],
        "pages": [412, 474, 730, 104, 352, 500],
        "retired": [0, 1, 0, 1, 0, 0],
        "bestseller": [True, False, False, True, False, True],
        "listPrice": [9.5, 7.0, 12.0, 5.0, 8.0, 11.0],
        "shelf_weight_g": [300, 350, 900, 120, 250, 400],
        "published": [date(1965, 8, 1), date(1815, 12, 23), date(1922, 2, 2),
                      date(1603, 1, 1), date(1854, 8, 9), date(1965, 1, 1)],
    }
)  # fmt: skip
GENRES = pa.table({"genreId": [1, 2, 3, 4], "genreName": ["Essay", "Novel", "Play", "Poem"]})
READERS = pa.table(
    {
        "readerId": list(range(1, 13)),
        "readerName": [f"R{i}" for i in range(1, 13)],
        # Twelve towns: no value hints for readers.town.
        "town": ["Oslo", "Bergen", "Oslo", "Rome", "Lima", "Kyiv", "Riga", "Oslo", "Baku", "Doha",
                 "Suva", "Apia"],
    }
)  # fmt: skip
# Branches have few towns, so the catalog knows their values: Oslo is a known branch town.
BRANCHES = pa.table({"branchId": [1, 2], "town": ["Oslo", "Bergen"]})
# Eleven countries: the catalog does not list them.
PUBLISHERS = pa.table(
    {
        "publisherId": list(range(1, 12)),
        "homeCountry": ["Norway", "norway", "United States", "USA", "Italy", "Peru", "Chile",
                        "Fiji", "Oman", "Chad", "Laos"],
    }
)  # fmt: skip
ORDERS = pa.table(
    {
        "orderId": [1, 2, 3],
        "freight": [10.0, 20.0, 60.0],
        "shippedDate": [date(2021, 1, 9), date(2022, 1, 3), date(2022, 3, 1)],
        "orderDate": [date(2021, 1, 5), date(2021, 12, 30), date(2022, 1, 20)],
    }
)
STAFF = pa.table(
    {
        "staffId": [1, 2, 3, 4],
        "staffName": ["Ada", "Bo", "Cy", "Di"],
        "birthDate": [date(1980, 1, 1), date(1960, 5, 5), date(1990, 2, 2), date(1975, 3, 3)],
        "hireDate": [date(2001, 1, 1), date(2015, 1, 1), date(2010, 1, 1), date(1999, 1, 1)],
    }
)
READINGS = pa.table(
    {
        "station": ["a", "a", "b", "b"],
        "temp_max": [10.0, 14.0, 9.0, 20.0],
        "temp_min": [1.0, 4.0, -2.0, 5.0],
        "rain_mm": [0.5, 2.5, 0.5, 0.5],
    }
)
# Line 4 belongs to an order that is not in `orders` (kept aside at import): it still counts.
ORDER_ITEMS = pa.table({"orderId": [1, 1, 2, 9], "bookId": [1, 2, 3, 4], "quantity": [2, 3, 5, 7]})
TABLES = {"books": BOOKS, "genres": GENRES, "readers": READERS, "branches": BRANCHES,
          "orders": ORDERS, "order_items": ORDER_ITEMS, "staff": STAFF,
          "readings": READINGS, "publishers": PUBLISHERS}  # fmt: skip


def _column(table: pa.Table, name: str) -> CatalogColumn:
    kind = str(table.schema.field(name).type)
    values: list[str] = []
    if kind == "string":
        distinct = sorted(set(table[name].to_pylist()))
        values = distinct if len(distinct) <= 10 else []
    return CatalogColumn(name=name, type=kind, values=values)


@pytest.fixture(scope="module")
def library() -> tuple[PromptCatalog, dict[Any, pa.Table]]:
    ids = {name: uuid.uuid4() for name in TABLES}
    catalog = PromptCatalog(
        tables=[
            CatalogTable(dataset_id=ids[name], version=1, name=name,
                         columns=[_column(t, c) for c in t.column_names])
            for name, t in TABLES.items()
        ]
    )  # fmt: skip
    return catalog, {ids[name]: t for name, t in TABLES.items()}


def ask(question: str, library: tuple[PromptCatalog, dict[Any, pa.Table]]) -> list[list[Any]]:
    catalog, data = library
    intent = translate(question, catalog)
    assert isinstance(intent, QueryIntent), intent
    rows = run_compiled(compile_sql(intent.sql, catalog), data).to_pylist()
    return [list(r.values()) for r in rows]


def test_a_compound_noun_counts_its_last_noun(library: Any) -> None:
    assert ask("how many book genres are there", library) == [[4]]
    assert ask("number of book genres", library) == [[4]]


def test_a_known_value_of_another_table_is_read_on_the_asked_table(library: Any) -> None:
    # Oslo is a declared value of branches.town only; the question is about readers.
    assert ask("how many readers are in Oslo", library) == [[3]]
    assert ask("number of readers living in Bergen", library) == [[1]]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how many retired books", 2),
        ("how many books are retired", 2),
        ("how many books are not retired", 4),
        ("number of bestseller books", 3),
    ],
)
def test_a_yes_no_column_is_a_filter(question: str, expected: int, library: Any) -> None:
    assert ask(question, library) == [[expected]]


def test_listing_by_a_yes_no_column_lists_the_rows(library: Any) -> None:
    rows = ask("list the retired books", library)
    assert sorted(r[1] for r in rows) == ["Emma", "Hamlet"]
    rows = ask("show bestseller books", library)
    assert sorted(r[1] for r in rows) == ["Dune", "Hamlet", "Ivanhoe"]


def test_a_verb_of_orders_does_not_join_away_lines(library: Any) -> None:
    assert ask("total quantity sold", library) == [[17]]
    assert ask("what is the total quantity ordered", library) == [[17]]


def test_an_average_per_row_of_its_own_table_is_not_grouped(library: Any) -> None:
    assert ask("average freight per order", library) == [[30.0]]
    assert ask("average pages per book", library) == [[pytest.approx(2572 / 6)]]
    assert ask("what is the average quantity per order line", library) == [[4.25]]


def test_an_average_per_another_table_is_asked_back(library: Any) -> None:
    catalog, _ = library
    assert isinstance(translate("average quantity per order", catalog), NotUnderstood)


def test_from_a_year_is_that_year(library: Any) -> None:
    assert ask("how many books are from 1965", library) == [[2]]
    assert ask("how many books since 1900", library) == [[3]]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("what is the highest maximum temperature", 20.0),
        ("lowest min temp", -2.0),
        ("average rain", 1.0),
        ("total rain in readings", 4.0),
        ("what is the average shelf weight of books", pytest.approx(2320 / 6)),
    ],
)
def test_column_words_without_units_and_abbreviations(
    question: str, expected: Any, library: Any
) -> None:
    assert ask(question, library) == [[expected]]


def test_an_ambiguous_column_word_is_asked_back(library: Any) -> None:
    catalog, _ = library
    # temperature: the maximum or the minimum?
    assert isinstance(translate("average temperature", catalog), NotUnderstood)


def test_superlatives_on_camel_case_and_dated_columns(library: Any) -> None:
    assert [r[1] for r in ask("what is the most expensive book", library)] == ["Ulysses"]
    assert [r[1] for r in ask("the 2 cheapest books", library)] == ["Hamlet", "Emma"]
    assert [r[1] for r in ask("who is the oldest staff", library)] == ["Bo"]
    assert [r[1] for r in ask("the youngest staff", library)] == ["Cy"]
    # orders have two dates: the order's own date is the one of "latest"
    assert [r[0] for r in ask("the latest order", library)] == [3]


def test_a_number_before_a_table_keeps_that_many(library: Any) -> None:
    rows = ask("which 2 orders had the highest freight", library)
    assert [r[0] for r in rows] == [3, 2]
    rows = ask("the 3 books with the most pages", library)
    assert [r[1] for r in rows] == ["Ulysses", "Ivanhoe", "Emma"]


def test_a_comparison_before_its_column(library: Any) -> None:
    rows = ask("books with more than 450 pages", library)
    assert sorted(r[1] for r in rows) == ["Emma", "Ivanhoe", "Ulysses"]
    assert ask("how many books have fewer than 400 pages", library) == [[2]]


def test_a_measure_per_a_column_of_a_joined_table(library: Any) -> None:
    rows = ask("average pages per genre name", library)
    assert sorted((r[0], r[1]) for r in rows) == [
        ("Essay", 382.0), ("Novel", pytest.approx(1704 / 3)), ("Play", 104.0)
    ]  # fmt: skip


def test_months_of_different_years_stay_apart(library: Any) -> None:
    rows = ask("number of orders per month", library)
    assert sorted((str(r[0]), r[1]) for r in rows) == [
        ("2021-01-01", 1), ("2021-12-01", 1), ("2022-01-01", 1)
    ]  # fmt: skip
    assert sorted(r[1] for r in ask("number of orders per year", library)) == [1, 2]


def test_a_column_of_several_tables_is_the_one_that_joins_the_other(library: Any) -> None:
    catalog = PromptCatalog(
        tables=[
            CatalogTable(dataset_id=uuid.uuid4(), version=1, name=name, columns=columns)
            for name, columns in {
                "lines": [CatalogColumn(name="unitPrice", type="double"),
                          CatalogColumn(name="itemId", type="int64")],
                "items": [CatalogColumn(name="itemId", type="int64"),
                          CatalogColumn(name="unitPrice", type="double"),
                          CatalogColumn(name="kindId", type="int64")],
                "kinds": [CatalogColumn(name="kindId", type="int64"),
                          CatalogColumn(name="kindName", type="string")],
            }.items()
        ]
    )  # fmt: skip
    intent = translate("average unit price per kind", catalog)
    assert isinstance(intent, QueryIntent), intent
    assert "AVG(items" in intent.sql and "lines" not in intent.sql
    assert isinstance(translate("highest unit price", catalog), NotUnderstood)


def test_units_said_must_be_the_columns_units(library: Any) -> None:
    catalog, _ = library
    assert ask("how many books weigh more than 300 grams", library) == [[3]]
    assert ask("how many books heavier than 300 g", library) == [[3]]
    assert ask("how many readings with rain under 1 mm", library) == [[3]]
    # kilograms against a column in grams, centimetres against millimetres: asked back
    assert isinstance(translate("how many books heavier than 2 kg", catalog), NotUnderstood)
    assert isinstance(translate("readings with rain over 1 cm", catalog), NotUnderstood)


def test_a_superlative_of_a_column_is_its_extreme(library: Any) -> None:
    assert ask("what was the coldest minimum temperature", library) == [[-2.0]]
    assert ask("the hottest max temperature recorded", library) == [[20.0]]


def test_words_of_how_rows_were_collected_are_fillers(library: Any) -> None:
    assert ask("how many readings were recorded", library) == [[4]]
    assert ask("how many books were observed from 1965", library) == [[2]]


def test_a_number_before_a_column_is_its_value(library: Any) -> None:
    assert ask("how many books have 412 pages", library) == [[1]]
    assert [r[1] for r in ask("books with 104 pages", library)] == ["Hamlet"]


def test_how_many_of_a_measure_counts_its_values(library: Any) -> None:
    assert ask("how many rain values are recorded", library) == [[4]]
    assert ask("how many different rain values", library) == [[2]]
    assert ask("how many distinct towns do readers live in", library) == [[10]]


def test_a_country_is_read_on_a_country_column(library: Any) -> None:
    catalog, _ = library
    assert ask("how many publishers in Norway", library) == [[2]]
    assert ask("number of publishers from the USA", library) == [[2]]
    assert ask("how many publishers not in Italy", library) == [[10]]
    # readers have no country column: not guessed
    assert isinstance(translate("how many readers in Norway", catalog), NotUnderstood)
