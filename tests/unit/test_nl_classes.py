"""Classes of question the built-in provider reads on any catalog, each asked here of tables
built for the test, in words no evaluation set uses (compass points, a raw variant of a
table, arithmetic between columns, ...).

Each question is answered exactly (values computed here from the rows) or refused; a wrong
answer fails.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from rivergen.quality import profile_column
from rivergen.semantic.catalog import apply_layer
from rivergen.semantic.draft import draft_layer
from rivergen.services.planning.builtin import translate
from rivergen.services.planning.intents import NotUnderstood
from tests.unit.test_nl_general import (
    BIRDS,
    GOODS,
    RACKS,
    SALE_LINES,
    TABLES,
    _library_of,
    _profiled,
    ask,
)

# Weather stations: coordinates under abbreviated names.
STATIONS = pa.table(
    {
        "stationCode": ["OSL", "TRO", "BGO", "KRS"],
        "lat": [59.9, 69.6, 60.4, 58.1],
        "lng": [10.7, 18.9, 5.3, 8.0],
        "elevation_m": [94, 100, 12, 17],
    }
)


@pytest.fixture(scope="module")
def stations() -> tuple[Any, dict[Any, pa.Table]]:
    return _library_of({"stations": STATIONS})


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("which station is the southernmost", "KRS"),
        ("the station furthest north", "TRO"),
        ("show the westernmost station", "BGO"),
        ("which station is farthest east", "TRO"),
    ],
)
def test_a_compass_superlative_is_the_extreme_of_its_coordinate(
    question: str, expected: str, stations: Any
) -> None:
    assert ask(question, stations)[0][0] == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how many stations are north of latitude 60", [[2]]),
        ("how many stations are west of 9", [[2]]),
        ("count the stations east of longitude 9", [[2]]),
    ],
)
def test_a_compass_point_before_a_number_compares_its_coordinate(
    question: str, expected: Any, stations: Any
) -> None:
    assert ask(question, stations) == expected


def test_a_compass_point_without_coordinates_is_not_understood() -> None:
    catalog, _ = _library_of({"rooms": pa.table({"roomName": ["a", "b"], "area": [3, 4]})})
    assert isinstance(translate("which room is the northernmost", catalog), NotUnderstood)


# A tree survey and its raw sheet: the raw sheet names the genus at length and holds what the
# clean table lacks (a tag code, the girth); no key joins them.
TREES = pa.table({"genus": ["Oak", "Ash", "Oak"], "height_m": [20, 12, 25]})
TREES_RAW = pa.table(
    {
        "Genus": ["Oak tree (Quercus)", "Ash tree (Fraxinus)", "Oak tree (Quercus)"],
        "Height (m)": [20, 12, 25],
        "Tag Code": ["T1", "T2", "T3"],
        "Girth (cm)": [180.0, 90.0, 240.0],
        "Park": ["Kew", "Hyde", "Kew"],
    }
)


@pytest.fixture(scope="module")
def trees() -> tuple[Any, dict[Any, pa.Table]]:
    return _profiled({"trees": TREES, "trees-raw": TREES_RAW})


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What genus is the tree with tag code T2?", "Ash tree (Fraxinus)"),
        ("Show the height of tag code T3", 25),
        ("What is the average girth of Oak trees?", 210.0),
        ("How many trees are in the park Kew?", 2),
    ],
)
def test_a_question_only_a_raw_variant_answers_is_read_on_it(
    question: str, expected: Any, trees: Any
) -> None:
    assert ask(question, trees)[0][0] == expected


def test_what_the_raw_variant_lacks_keeps_the_question_not_understood(trees: Any) -> None:
    catalog, _ = trees
    # `Maple` is no genus of the raw sheet
    assert isinstance(translate("average girth of Maple trees", catalog), NotUnderstood)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # books: listPrice 9.5, 7, 12, 5, 8, 11; pages 412, 474, 730, 104, 352, 500
        (
            "average ratio of the list price to the pages",
            pytest.approx(
                sum(
                    p / n
                    for p, n in [(9.5, 412), (7, 474), (12, 730), (5, 104), (8, 352), (11, 500)]
                )
                / 6
            ),
        ),
        ("the highest difference between pages and list price", 730 - 12.0),
        ("What is the lowest pages divided by list price?", 104 / 5.0),
        ("total of pages minus list price", 2572 - 52.5),
    ],
)
def test_arithmetic_between_two_columns_is_a_value_of_each_row(
    question: str, expected: Any
) -> None:
    assert ask(question, _library_of({"books": TABLES["books"]}))[0][0] == expected


def test_arithmetic_between_columns_of_two_tables_is_not_understood() -> None:
    catalog, _ = _library_of({"books": TABLES["books"], "orders": TABLES["orders"]})
    assert isinstance(translate("average ratio of freight to pages", catalog), NotUnderstood)


def _drafted(tables: dict[str, pa.Table], descriptions: dict[str, str]) -> Any:
    """The tables with descriptions and the automatic draft of their semantic layer."""
    catalog, data = _profiled(tables)
    for table in catalog.tables:
        table.description = descriptions.get(table.name, "")
    profiles = {
        name: {
            "columns": [
                profile_column(c, t.column(c)).model_dump(mode="json") for c in t.column_names
            ]
        }
        for name, t in tables.items()
    }
    return apply_layer(catalog, draft_layer(catalog, profiles), 1), data


RIVER = pa.table({"gauge": ["g1", "g2", "g1"], "level": [2.0, 4.0, 3.0], "rain": [0, 5, 1]})
FERRIES = pa.table({"ferryId": [1, 2], "ferryName": ["Ada", "Bo"]})
TUGS = pa.table({"tugId": [1, 2, 3], "tugName": ["Cy", "Di", "Ed"]})


@pytest.fixture(scope="module")
def described() -> Any:
    return _drafted(
        {"readings": RIVER, "ferries": FERRIES, "tugs": TUGS},
        {
            "readings": "Hourly river level and rain gauge readings, 2020.",
            "ferries": "Passenger boats.",
            "tugs": "Harbour tugs: their names.",
        },
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the average river level?", [[3.0]]),
        ("highest river level per gauge", [["g1", 3.0], ["g2", 4.0]]),
        ("How many passenger boats are there?", [[2]]),
        ("count the harbour tugs", [[3]]),
    ],
)
def test_the_draft_reads_names_from_a_tables_description(
    question: str, expected: Any, described: Any
) -> None:
    assert ask(question, described) == expected


def test_a_description_word_that_joins_or_names_a_column_is_no_name(described: Any) -> None:
    catalog, _ = described
    # "rain gauge" joins two column names: neither is renamed by it
    assert isinstance(translate("average rain gauge", catalog), NotUnderstood)
    table = catalog.table("readings")
    assert table is not None and table.synonyms[:1] != ["hourly river level"]


@pytest.fixture(scope="module")
def pantry() -> Any:
    return _profiled({"goods": GOODS, "racks": RACKS, "sale_lines": SALE_LINES})


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # goods: Tea 10 units in stock, Jam 0, Oil 2; racks Pantry (Tea, Jam), Cellar (Oil)
        ("How many units of Oil are in stock?", [[2]]),
        ("how many units do we hold in stock in total", [[12]]),
        ("Which goods are out of stock?", "Jam"),
        ("units in stock per rack", [[1, "Pantry", 10], [2, "Cellar", 2]]),
        ("which rack has the most units in stock", "Pantry"),
    ],
)
def test_a_count_of_things_by_where_they_are(question: str, expected: Any, pantry: Any) -> None:
    got = ask(question, pantry)
    assert (got if isinstance(expected, list) else [r[1] for r in got]) == (
        expected if isinstance(expected, list) else [expected]
    )


@pytest.mark.parametrize(
    "question",
    [
        "unit price per rack",  # a price does not add up: its total, average or maximum?
        "what is the unit price in total",  # in total of what?
        "which rack has the highest unit price",
    ],
)
def test_what_does_not_add_up_is_not_totalled(question: str, pantry: Any) -> None:
    catalog, _ = pantry
    assert isinstance(translate(question, catalog), NotUnderstood)


def test_the_most_of_an_amount_per_period_is_its_total(harbour_days: Any) -> None:
    # rain per month: January 1+2 = 3, February 5
    assert ask("which month had the most rain", harbour_days) == [[date(2020, 2, 1), 5.0]]
    assert ask("which month had the least rain", harbour_days) == [[date(2020, 1, 1), 3.0]]


@pytest.mark.parametrize(
    "question", ["which month had the most wind", "which month had the highest temperature"]
)
def test_a_level_per_period_is_no_total(question: str, harbour_days: Any) -> None:
    # A day's wind or temperature adds up to nothing: the total, the average or the maximum?
    catalog, _ = harbour_days
    assert isinstance(translate(question, catalog), NotUnderstood)


@pytest.fixture(scope="module")
def harbour_days() -> Any:
    days = pa.table(
        {
            "date": [date(2020, 1, 1), date(2020, 1, 2), date(2020, 2, 1)],
            "rain": [1.0, 2.0, 5.0],
            "wind": [30.0, 10.0, 12.0],
            "temperature": [4.0, 6.0, 5.0],
        }
    )
    return _library_of({"harbour": days})


def test_a_place_word_gives_way_to_a_longer_phrase_after_it() -> None:
    goods = pa.table({"goodId": [1, 2, 3], "unitsOnSale": [4, 0, 6]})
    shop = _profiled({"goods": goods, "sale_lines": SALE_LINES})
    assert ask("What is the average quantity on sale lines?", shop) == [[pytest.approx(7 / 3)]]
    assert ask("how many units are on sale in total", shop) == [[10]]


def test_a_column_named_with_a_number_is_read_with_it() -> None:
    cores = pa.table(
        {
            "site": ["Dome C", "Vostok", "Dome C"],
            "Delta 34 S (o/oo)": [-50.0, -56.5, -52.0],
            "Depth 2 M": [1.0, 2.0, 3.0],
        }
    )
    ice = _library_of({"cores": cores})
    assert ask("What is the lowest Delta 34 S?", ice) == [[-56.5]]
    assert ask("average delta 34 s per site", ice) == [["Dome C", -51.0], ["Vostok", -56.5]]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # staff: Ada hired 2001, born 1980; Cy hired 2010
        ("When was Cy hired?", [[date(2010, 1, 1)]]),
        ("when was Ada born", [[date(1980, 1, 1)]]),
    ],
)
def test_when_an_event_happened_to_a_named_row(question: str, expected: Any) -> None:
    assert ask(question, _profiled({"staff": TABLES["staff"]})) == expected


@pytest.mark.parametrize("question", ["when is Cy", "when was Cy's staff id"])
def test_when_without_an_event_is_not_understood(question: str) -> None:
    catalog, _ = _profiled({"staff": TABLES["staff"]})
    assert isinstance(translate(question, catalog), NotUnderstood)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # books: shelf weights 300, 350, 900, 120, 250, 400 (average 386.7); list prices
        # 9.5, 7, 12, 5, 8, 11 (median 8.75)
        ("how many books are heavier than the average", [[2]]),
        ("count the books with a list price below the median", [[3]]),
        ("how many books have a shelf weight of at least the average", [[2]]),
    ],
)
def test_a_comparison_with_the_average_of_every_row(question: str, expected: Any) -> None:
    assert ask(question, _library_of({"books": TABLES["books"]})) == expected


@pytest.mark.parametrize(
    "question",
    [
        "how many bestseller books are heavier than the average",  # of all, or of bestsellers?
        "how many books are more than the average",  # of which column?
    ],
)
def test_a_comparison_with_an_average_of_what_is_not_understood(question: str) -> None:
    catalog, _ = _library_of({"books": TABLES["books"]})
    assert isinstance(translate(question, catalog), NotUnderstood)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # staff hired: Di 1999, Ada 2001, Cy 2010, Bo 2015; born: Bo 1960 first
        ("Which 2 staff were hired first?", ["Di", "Ada"]),
        ("which staff was hired last", ["Bo"]),
        ("which staff was born first", ["Bo"]),
    ],
)
def test_rows_in_the_order_of_an_event_said_first_or_last(
    question: str, expected: list[str]
) -> None:
    got = ask(question, _profiled({"staff": TABLES["staff"]}))
    assert [r[1] for r in got] == expected


def test_first_or_last_without_an_event_is_not_understood() -> None:
    catalog, _ = _profiled({"staff": TABLES["staff"]})
    assert isinstance(translate("which staff came last", catalog), NotUnderstood)


def test_how_many_of_each_value_said_is_a_count_per_value() -> None:
    birds = _library_of({"birds": BIRDS})
    assert ask("how many Wren and how many Owl birds are there", birds) == [
        ["Owl", 1],
        ["Wren", 2],
    ]
    # values of two columns (a kind and a site): each counted? not guessed
    assert isinstance(translate("how many Wren and how many Skye birds", birds[0]), NotUnderstood)


@pytest.fixture(scope="module")
def shop() -> Any:
    return _profiled(
        {
            "shoppers": pa.table({"shopperId": [1, 2, 3], "shopperName": ["Ann", "Ben", "Cat"]}),
            "orders": pa.table({"orderId": [10, 11, 12], "shopperId": [1, 2, 1]}),
            "order_lines": pa.table({"orderId": [10, 11, 11, 12], "goodId": [1, 1, 2, 2]}),
            "goods": pa.table({"goodId": [1, 2, 3], "goodName": ["Tea", "Jam", "Oil"]}),
        }
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which shoppers ordered Jam?", ["Ben", "Ann"]),
        ("how many shoppers ordered Tea", 2),
        ("how many shoppers ordered Oil", 0),
    ],
)
def test_who_ordered_a_product_goes_through_the_order_lines(
    question: str, expected: Any, shop: Any
) -> None:
    got = ask(question, shop)
    assert (
        (sorted(r[1] for r in got) == sorted(expected))
        if isinstance(expected, list)
        else (got == [[expected]])
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # publishers: homeCountry Norway, norway, United States, USA, Italy, ... (not listed)
        ("how many Italian publishers are there", [[1]]),
        ("how many American publishers", [[2]]),
        ("count the norwegian publishers", [[2]]),
    ],
)
def test_a_countrys_adjective_is_the_country(question: str, expected: Any, library: Any) -> None:
    assert ask(question, library) == expected


@pytest.fixture(scope="module")
def library() -> Any:
    return _library_of({"publishers": TABLES["publishers"]})


def test_each_city_of_a_country_said_by_its_adjective() -> None:
    clubs = pa.table(
        {
            "clubName": ["A", "B", "C", "D"],
            "city": ["Vigo", "Lyon", "Vigo", "Cadiz"],
            "country": ["Spain", "France", "Spain", "Spain"],
        }
    )
    got = ask("How many clubs are there in each Spanish city?", _profiled({"clubs": clubs}))
    assert got == [["Cadiz", 1], ["Vigo", 2]]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many venues are in Ohio?", [[2]]),
        ("how many venues in new jersey", [[1]]),
        ("list the venues in Texas", [["Alamo", "TX"]]),
    ],
)
def test_a_us_state_by_its_name_is_its_code_or_its_name(question: str, expected: Any) -> None:
    names = [f"V{i}" for i in range(60)]
    venues = pa.table(
        {
            "venueName": ["Alamo", "Dome", "Arch", "Pier", *names],
            "state": ["TX", "OH", "oh", "New Jersey", *(["CA"] * 60)],
        }
    )
    assert ask(question, _library_of({"venues": venues})) == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # orders: freight 10, 20, 60
        ("what is the highest freight cost", [[60.0]]),
        ("how many orders had a freight charge under 15", [[1]]),
    ],
)
def test_an_amount_said_with_a_noun_of_amounts(question: str, expected: Any) -> None:
    assert ask(question, _library_of({"orders": TABLES["orders"]})) == expected


def test_a_price_with_a_noun_of_amounts_is_not_understood() -> None:
    catalog, _ = _library_of({"books": TABLES["books"]})
    assert isinstance(translate("total list price amount", catalog), NotUnderstood)


def test_a_column_said_with_is_before_its_value_is_a_condition_on_the_rows() -> None:
    clubs = pa.table(
        {
            "clubName": ["A", "B", "C"],
            "country": ["Spain", "France", "Spain"],
            "state": ["x", "y", "Ohio"],
        }
    )
    catalog = _profiled({"clubs": clubs})
    assert [r[0] for r in ask("list the clubs whose country is Spain", catalog)] == ["A", "C"]
    assert ask("how many clubs are in the state of Ohio", catalog) == [[1]]


def test_the_latest_year_of_a_column_of_years_said_by_its_name() -> None:
    matches = pa.table({"matchId": [1, 2, 3], "seasonYear": [2019, 2020, 2020], "goals": [1, 3, 5]})
    league = _library_of({"matches": matches})
    assert ask("how many matches in the latest season year", league) == [[2]]
    assert ask("average goals from the most recent season year", league) == [[4.0]]


def test_a_column_named_by_a_plural_noun_is_its_count() -> None:
    books = _library_of({"books": TABLES["books"]})  # pages 412, 474, 730, 104, 352, 500
    assert ask("what is the highest page count", books) == [[730]]
    assert ask("how many different page counts are there", books) == [[6]]


def test_a_word_of_a_table_name_that_another_named_table_holds_is_that_value() -> None:
    cities = ["Oslo", *(f"Town{i}" for i in range(60))]
    tables = {
        "oslo-weather": pa.table({"day": [1, 2], "temp": [3.0, 5.0]}),
        "ferries": pa.table({"ferryName": [f"F{i}" for i in range(61)], "city": cities}),
    }
    harbour = _profiled(tables)
    assert [r[0] for r in ask("list the ferries in Oslo", harbour)] == ["F0"]
    assert ask("average temp in oslo", harbour) == [[4.0]]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how many deliveries had a confirmed payment", [[2]]),
        ("how many deliveries did not confirm their payment", [[1]]),
        ("how many deliveries to Oslo had a payment confirmed", [[1]]),
    ],
)
def test_a_yes_no_column_of_a_deed_is_said_by_the_deed(question: str, expected: Any) -> None:
    deliveries = pa.table(
        {
            "deliveryId": [1, 2, 3],
            "city": ["Oslo", "Rome", "Oslo"],
            "Payment Confirmation": ["Yes", "Yes", "No"],
        }
    )
    assert ask(question, _profiled({"deliveries": deliveries})) == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how many shoppers have placed an order", [[2]]),
        ("how many goods have order lines", [[2]]),
    ],
)
def test_rows_that_have_rows_of_a_table_that_refers_to_them(
    question: str, expected: Any, shop: Any
) -> None:
    assert ask(question, shop) == expected


def test_rows_and_another_table_without_have_stay_not_understood(shop: Any) -> None:
    catalog, _ = shop
    assert isinstance(translate("how many shoppers and orders are there", catalog), NotUnderstood)
    assert sorted(r[1] for r in ask("which shoppers have orders", shop)) == ["Ann", "Ben"]


def test_rows_said_in_the_place_of_their_things_have_some_there(pantry: Any) -> None:
    assert ask("how many goods are in stock", pantry) == [[2]]  # Tea 10, Oil 2; Jam 0
    assert sorted(r[1] for r in ask("list the goods in stock", pantry)) == ["Oil", "Tea"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # books: shelf weights 120 to 900; list prices 5 to 12
        ("the difference between the heaviest and the lightest book", [[780]]),
        ("difference between the highest and the lowest list price", [[7.0]]),
    ],
)
def test_the_difference_between_two_extremes_is_the_spread(question: str, expected: Any) -> None:
    assert ask(question, _library_of({"books": TABLES["books"]})) == expected


def test_the_difference_between_two_like_extremes_is_not_understood() -> None:
    catalog, _ = _library_of({"books": TABLES["books"]})
    question = "difference between the heaviest and the heaviest book"
    assert isinstance(translate(question, catalog), NotUnderstood)


def test_what_rows_have_with_a_condition_on_it_is_not_listed() -> None:
    clubs = pa.table(
        {
            "clubName": ["A", "B", "C"],
            "coach": ["Xi", "Yu", "Zo"],
            "coachTitle": ["Manager", "Owner", "Manager"],
        }
    )
    got = ask("Which clubs have a coach whose title is Manager?", _profiled({"clubs": clubs}))
    assert [r[0] for r in got] == ["A", "C"]


def test_several_places_of_one_column_are_one_of_them() -> None:
    names = [f"V{i}" for i in range(60)]
    venues = pa.table(
        {
            "venueName": ["Alamo", "Dome", "Arch", *names],
            "state": ["TX", "OH", "WA", *(["CA"] * 60)],
        }
    )
    catalog = _library_of({"venues": venues})
    assert ask("how many venues are in Texas or Ohio", catalog) == [[2]]
    assert ask("how many venues are not in California or Ohio", catalog) == [[2]]
    publishers = _library_of({"publishers": TABLES["publishers"]})
    assert ask("how many publishers are in Italy or Norway", publishers) == [[3]]


def test_rows_that_have_a_text_column_have_a_value_in_it() -> None:
    firms = pa.table(
        {"firmName": ["A", "B", "C"], "fax": ["1", None, "3"], "discount": [0.0, 0.1, 0.0]}
    )
    catalog = _library_of({"firms": firms})
    assert [r[0] for r in ask("which firms have a fax", catalog)] == ["A", "C"]
    assert ask("how many firms have a fax", catalog) == [[2]]


def test_rows_that_have_a_number_column_are_asked_back() -> None:
    firms = pa.table({"firmName": ["A", "B"], "discount": [0.0, 0.1]})
    catalog, _ = _library_of({"firms": firms})
    assert isinstance(translate("which firms have a discount", catalog), NotUnderstood)


def test_rows_with_a_text_column_and_of_a_raw_variant(trees: Any) -> None:
    firms = _library_of({"firms": pa.table({"firmName": ["A", "B"], "fax": ["1", None]})})
    assert [r[0] for r in ask("list the firms with a fax", firms)] == ["A"]
    # the park only the raw sheet holds: its rows with one
    assert ask("how many trees have a park", trees) == [[3]]


@pytest.mark.parametrize(
    "question",
    [
        "how many books per genre are heavier than the average",
        "which station has a temp max above the average",
    ],
)
def test_a_comparison_with_the_average_in_groups_is_not_understood(question: str) -> None:
    catalog, _ = _library_of(
        {"books": TABLES["books"], "genres": TABLES["genres"], "readings": TABLES["readings"]}
    )
    assert isinstance(translate(question, catalog), NotUnderstood)
