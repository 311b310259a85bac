"""The natural-language evaluation (bench/nl_eval): its question files are well formed, every
expected SQL is admitted and runs on the engine with an answer, the datasets load from their
packages as the platform reads them, and the answer comparison means what it says."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pyarrow as pa
import pytest

from bench.nl_eval.compare import ORDER_PREFIX, matches
from bench.nl_eval.datasets import DRAFT_VERSION, LOADERS, EvalDataset, curated_addition
from bench.nl_eval.questions import KINDS, QuestionSet, load_questions
from rivergen.engine.duck import EngineLimits, execute, resolver
from rivergen.engine.sandbox import admit
from rivergen.semantic.draft import draft_layer

PREFIXES = {"northwind": "nw", "penguins": "pg", "vega": "vg"}


@pytest.fixture(scope="module")
def sets() -> dict[str, QuestionSet]:
    return {name: load_questions(name) for name in LOADERS}


@pytest.fixture(scope="module")
def datasets() -> dict[str, EvalDataset]:
    return {name: load() for name, load in LOADERS.items()}


def test_the_question_files_are_well_formed(sets: dict[str, QuestionSet]) -> None:
    assert set(sets) == set(PREFIXES)
    total = sum(len(s.questions) for s in sets.values())
    assert total >= 300
    ids = [q.id for s in sets.values() for q in s.questions]
    assert len(ids) == len(set(ids))
    texts = Counter((name, q.question.casefold()) for name, s in sets.items() for q in s.questions)
    assert [t for t, n in texts.items() if n > 1] == []
    for name, questions in sets.items():
        assert questions.dataset == name
        assert len(questions.questions) >= 100
        for q in questions.questions:
            assert q.id.startswith(PREFIXES[name] + "-")
            assert set(q.kinds) <= set(KINDS)
    kinds = Counter(k for s in sets.values() for q in s.questions for k in q.kinds)
    assert all(kinds[k] >= 5 for k in KINDS), kinds


def test_every_expected_sql_runs_on_the_engine(
    sets: dict[str, QuestionSet], datasets: dict[str, EvalDataset]
) -> None:
    """Each statement alone is admitted against the dataset's tables; they then run on the
    engine, one sandbox per dataset (a fresh DuckDB per statement costs ~0.1 s each), every
    one with at least one row that is not all NULL, `_order` columns only where the order is
    asked."""
    for name, questions in sets.items():
        dataset = datasets[name]
        resolve = resolver(dataset.tables)
        probes = []
        for q in questions.questions:
            for k, sql in enumerate([q.sql, *q.also]):
                admitted = admit(sql, resolve)
                probes.append(
                    f"SELECT '{q.id}/{k}' AS label, COUNT(*) AS n, COUNT(*) FILTER (WHERE "
                    "contains(replace(to_json(q)::VARCHAR, ':null', ''), ':')) AS valued, "
                    "any_value(json_keys(to_json(q))) AS columns "
                    f"FROM ({admitted.sql}) AS q"
                )
        answers = execute(" UNION ALL ".join(probes), dataset.tables, EngineLimits()).to_pylist()
        found = {row["label"]: row for row in answers}
        ordered = {q.id: q.ordered for q in questions.questions}
        for q in questions.questions:
            for k in range(1 + len(q.also)):
                row = found.get(f"{q.id}/{k}")
                assert row is not None and row["n"] > 0, f"{q.id}: the expected answer is empty"
                assert row["valued"] > 0, f"{q.id}: the expected answer is all NULL"
                if any(c.startswith(ORDER_PREFIX) for c in row["columns"] or []):
                    assert ordered[q.id], f"{q.id}: `_order` columns in an unordered answer"


def test_the_datasets_load_from_their_packages(datasets: dict[str, EvalDataset]) -> None:
    rows = {
        name: {t: table.num_rows for t, table in d.tables.items()} for name, d in datasets.items()
    }
    assert rows["northwind"]["orders"] == 654  # 176 rows with unquoted commas kept aside
    assert rows["penguins"] == {"penguins": 344, "penguins-raw": 344}
    assert rows["vega"] == {"seattle-weather": 1461, "cars": 406, "stocks": 560, "airports": 3376}
    penguins = datasets["penguins"].catalog.table("penguins")
    assert penguins is not None
    hints = {c.name: c.values for c in penguins.columns if c.values}
    assert hints == {
        "species": ["Adelie", "Gentoo", "Chinstrap"],
        "island": ["Biscoe", "Dream", "Torgersen"],
        "sex": ["male", "female"],
    }
    customers = datasets["northwind"].catalog.table("customers")
    assert customers is not None
    # Past the ten top values, a text column is hinted with the values its profile keeps.
    kept = {c.name: c.values for c in customers.columns}
    assert len(kept["country"]) == 19 and kept["country"] == sorted(kept["country"])
    assert "Alfreds Futterkiste" in kept["companyName"] and len(kept["companyName"]) == 67
    # The platform declares no key: the only keys are the automatic draft's relationships,
    # applied as a draft version (nothing confirmed).
    northwind = datasets["northwind"].catalog
    assert northwind.semantic_version == DRAFT_VERSION
    keys = {(k.table, k.column, k.ref_table, k.ref_column) for k in northwind.keys}
    by_name = draft_layer(northwind, {}).relationships  # without profiles: names alone
    assert {(r.from_dataset, r.from_column, r.to_dataset, r.to_column) for r in by_name} < keys
    # ...and with them, a key named otherwise whose values are all the other's keys
    assert ("orders", "shipVia", "shippers", "shipperID") in keys


def _t(**columns: list[object]) -> pa.Table:
    return pa.table(columns)


def test_exact_means_the_same_values_whatever_the_names_and_extra_columns() -> None:
    expected = _t(categoryName=["Beverages", "Seafood"], avg=[37.979166666666664, 20.6825])
    got = _t(
        category_id=[8, 1], avg_price=[20.68250001, 37.97916666666], name=["Seafood", "Beverages"]
    )
    assert matches(expected, got)
    assert not matches(expected, _t(name=["Beverages", "Seafood"], avg=[37.98, 20.68]))
    # Each expected column needs its own answer column, and rows stay rows.
    assert not matches(
        expected, _t(name=["Seafood", "Beverages"], avg=[37.979166666666664, 20.6825])
    )
    assert not matches(_t(a=[1, 1]), _t(a=[1]))
    assert matches(_t(n=[77]), _t(n=[Decimal(77)]))
    assert matches(_t(d=[dt.datetime(1996, 7, 4)]), _t(d=[dt.date(1996, 7, 4)]))
    assert matches(_t(x=[None, 1]), _t(y=[1, None]))
    assert not matches(_t(x=[None]), _t(y=[0]))


def test_periods_shares_and_order() -> None:
    assert matches(
        _t(y=[1996, 1997], n=[1, 2]), _t(y=[dt.date(1997, 1, 1), dt.date(1996, 1, 1)], n=[2, 1])
    )
    assert matches(_t(m=["1997-03"]), _t(m=[dt.datetime(1997, 3, 1)]))
    assert not matches(_t(p=[25.0]), _t(p=[0.25]))
    assert matches(_t(p=[25.0]), _t(p=[0.25]), share=True)
    assert matches(_t(n=["a", "b"]), _t(n=["a", "b"]), ordered=True)
    assert not matches(_t(n=["a", "b"]), _t(n=["b", "a"]), ordered=True)
    ties: dict[str, list[object]] = {"n": ["a", "b", "c"], f"{ORDER_PREFIX}_price": [3, 2, 2]}
    assert matches(_t(**ties), _t(n=["a", "c", "b"]), ordered=True)
    assert not matches(_t(**ties), _t(n=["b", "a", "c"]), ordered=True)


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_a_curated_addition_names_what_the_draft_has(
    name: str, datasets: dict[str, EvalDataset]
) -> None:
    """`--curated` only: each file adds synonyms to datasets and columns of the draft (a name
    the draft lacks fails), and the headline catalog stays the draft alone."""
    addition = curated_addition(name)
    assert addition is not None
    catalog = datasets[name].catalog
    for dataset in addition.datasets:
        table = catalog.table(dataset.name)
        assert table is not None
        assert not set(dataset.synonyms) & set(table.synonyms) or not dataset.synonyms
        assert {c.name for c in dataset.columns} <= {c.name for c in table.columns}
    curated = LOADERS[name](curated=True).catalog
    added = {s for d in addition.datasets for c in d.columns for s in c.synonyms}
    said = {s for t in curated.tables for c in t.columns for s in c.synonyms}
    assert added <= said
