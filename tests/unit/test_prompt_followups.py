"""Follow-ups read as changes of the previous reading (no Ray, no servers), and the chart an
answer suggests from its column types."""

from __future__ import annotations

import uuid

import pytest

from rivergen.agents.prompt_studio.chart import suggest_chart
from rivergen.services.planning.builtin import translate
from rivergen.services.planning.catalog import CatalogColumn, CatalogTable, PromptCatalog
from rivergen.services.planning.followup import Clarify, Why, read_followup
from rivergen.services.planning.intents import NotUnderstood, QueryIntent


def _table(name: str, columns: dict[str, str], values: dict[str, list[str]]) -> CatalogTable:
    return CatalogTable(
        dataset_id=uuid.uuid4(),
        version=1,
        name=name,
        columns=[
            CatalogColumn(name=c, type=t, values=values.get(c, [])) for c, t in columns.items()
        ],
    )


CATALOG = PromptCatalog(
    tables=[
        _table(
            "penguins",
            {"species": "string", "island": "string", "body_mass_g": "int64", "year": "int64"},
            {"species": ["Adelie", "Gentoo"], "island": ["Biscoe", "Dream"]},
        ),
        _table(
            "employees",
            {
                "employeeID": "int64",
                "birthDate": "timestamp[ms]",
                "hireDate": "timestamp[ms]",
                "country": "string",
            },
            {},
        ),
    ]
)


def first(question: str) -> QueryIntent:
    intent = translate(question, CATALOG)
    assert isinstance(intent, QueryIntent), intent
    return intent


def test_each_pattern_changes_the_previous_select() -> None:
    prior = first("average body mass of Adelie penguins")
    swapped = read_followup("what about Gentoo?", prior, CATALOG)
    assert isinstance(swapped, QueryIntent)
    assert "'Gentoo'" in swapped.sql and "Adelie" not in swapped.sql
    only = read_followup("only on Dream", swapped, CATALOG)
    assert isinstance(only, QueryIntent)
    assert "penguins.island = 'Dream'" in only.sql and "'Gentoo'" in only.sql
    grouped = read_followup("and by year?", only, CATALOG)
    assert isinstance(grouped, QueryIntent)
    assert 'GROUP BY penguins."year"' in grouped.sql
    top = read_followup("show the top 2 instead", grouped, CATALOG)
    assert isinstance(top, QueryIntent)
    assert top.sql.endswith('ORDER BY average_body_mass_g DESC, "year" LIMIT 2')
    assert isinstance(read_followup("why?", top, CATALOG), Why)
    # Each reading says what the follow-up changed, after what was read before.
    assert top.understood[: len(prior.understood)] == prior.understood
    assert any("follow-up" in u for u in top.understood)


@pytest.mark.parametrize(
    "question",
    [
        "and by banana?",
        "what about Narnia?",
        "only 5 bananas",
        "show the top many instead",
    ],
)
def test_a_follow_up_that_cannot_be_read_is_not_guessed(question: str) -> None:
    prior = first("average body mass of Adelie penguins")
    assert isinstance(read_followup(question, prior, CATALOG), NotUnderstood)


def test_what_about_needs_a_filter_to_change() -> None:
    prior = first("how many penguins by species")
    assert isinstance(read_followup("what about Dream?", prior, CATALOG), NotUnderstood)


def test_questions_of_their_own_are_not_follow_ups() -> None:
    prior = first("how many penguins by species")
    assert read_followup("how many employees", prior, CATALOG) is None


def test_several_fitting_columns_ask_which_and_the_answer_picks_one() -> None:
    prior = first("how many employees")
    asked = read_followup("only 1993", prior, CATALOG)
    assert isinstance(asked, Clarify)
    assert [o.label for o in asked.options] == ["employees.birthDate", "employees.hireDate"]
    by_name = read_followup("hire date", prior, CATALOG, asked)
    by_place = read_followup("the second one", prior, CATALOG, asked)
    assert isinstance(by_name, QueryIntent) and by_name == by_place
    assert "hireDate" in by_name.sql and "birthDate" not in by_name.sql
    assert isinstance(read_followup("the fifth", prior, CATALOG, asked), NotUnderstood)


@pytest.mark.parametrize(
    ("columns", "types", "kind", "x", "y"),
    [
        (["n"], ["int64"], "number", None, "n"),
        (["country", "n"], ["string", "int64"], "bar", "country", "n"),
        (["orderDate", "total"], ["timestamp[ms]", "double"], "line", "orderDate", "total"),
        (["year", "mass"], ["int32", "double"], "line", "year", "mass"),
        (["id", "mass"], ["int64", "double"], "table", None, None),
        (["country", "city", "n"], ["string", "string", "int64"], "table", None, None),
        (["name"], ["string"], "table", None, None),
        (["country", "n"], [], "table", None, None),
    ],
)
def test_the_chart_follows_the_answers_column_types(
    columns: list[str], types: list[str], kind: str, x: str | None, y: str | None
) -> None:
    chart = suggest_chart(columns, types)
    assert (chart.kind, chart.x, chart.y) == (kind, x, y)
