"""The built-in provider on questions it was not written for.

    python -m bench.nl_eval [--dataset NAME ...]   (no services, no Ray; prints a report,
                                                   then one JSON line)
    python -m bench.nl_eval --failures             (also each question not answered exactly,
                                                   with its reason)
    python -m bench.nl_eval --curated              (the draft with what a person adds to it:
                                                   <dataset>.curated.yaml; not the headline)

Every question of ``bench/nl_eval/<dataset>.yaml`` is asked of the built-in provider
(``translate``) against the catalog the platform would build for the dataset
(:mod:`bench.nl_eval.datasets`). A :class:`QueryIntent` is compiled and run on the engine
(``compile_sql`` + ``run_compiled``) and its answer compared with the expected one, the
hand-written SQL run on the same engine (:mod:`bench.nl_eval.compare` says when they are the
same). Each question is then:

- ``exact``: the answer is the expected one;
- ``not_understood``: the provider said so (:class:`NotUnderstood`);
- ``wrong``: anything else presented as an answer: different rows, SQL the engine refuses or
  fails on, another intent (describe, find datasets...) for a question about the data, or an
  error raised by the provider.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from bench.nl_eval.compare import matches_any
from bench.nl_eval.datasets import LOADERS, EvalDataset
from bench.nl_eval.questions import KINDS, Question, load_questions
from rivergen.engine.duck import run_sql
from rivergen.errors import RiverGenError
from rivergen.services.execution.sql import compile_sql, run_compiled
from rivergen.services.planning.builtin import translate
from rivergen.services.planning.intents import Intent, NotUnderstood, QueryIntent

OUTCOMES = ("exact", "not_understood", "wrong")


@dataclass
class Outcome:
    id: str
    question: str
    kinds: list[str]
    outcome: str
    seconds: float
    sql: str | None = None
    detail: str = ""
    unknown: list[str] = field(default_factory=list)
    unknown_kinds: list[str] = field(default_factory=list)


def expected_answers(question: Question, dataset: EvalDataset) -> list[pa.Table]:
    """The expected answers: the question's SQL (and its ``also`` readings) admitted and run by
    the engine over the tables by dataset name."""
    return [run_sql(sql, dataset.tables) for sql in [question.sql, *question.also]]


def _preview(table: pa.Table, rows: int = 3) -> str:
    return json.dumps(table.slice(0, rows).to_pylist(), default=str, ensure_ascii=False)[:300]


def ask(question: Question, dataset: EvalDataset, expected: list[pa.Table]) -> Outcome:
    """One question through the provider and the engine, timed, and classified."""
    start = time.perf_counter()
    found = Outcome(question.id, question.question, question.kinds, "wrong", 0.0)
    try:
        intent: Intent = translate(question.question, dataset.catalog)
    except Exception as exc:  # a crash is an answer too: the person gets an error
        found.detail = f"the provider raised {type(exc).__name__}: {exc}"
        found.seconds = time.perf_counter() - start
        return found
    if isinstance(intent, NotUnderstood):
        found.outcome, found.detail, found.unknown = (
            "not_understood",
            intent.message,
            intent.unknown,
        )
    elif not isinstance(intent, QueryIntent):
        found.detail = f"another intent: {intent.kind}"
    else:
        found.sql = intent.sql
        try:
            got = run_compiled(compile_sql(intent.sql, dataset.catalog), dataset.by_id())
        except RiverGenError as exc:
            found.detail = f"the engine refused it: {exc}"
        except Exception as exc:
            found.detail = f"the engine failed: {type(exc).__name__}: {exc}"
        else:
            found.seconds = time.perf_counter() - start  # the answer, without its check
            share = "share" in question.kinds
            if matches_any(expected, got, ordered=question.ordered, share=share):
                found.outcome = "exact"
            else:
                found.detail = (
                    f"got {got.num_rows} row(s) {_preview(got)}; expected "
                    f"{expected[0].num_rows} row(s) {_preview(expected[0])}"
                )
    found.seconds = found.seconds or time.perf_counter() - start
    return found


def reason(message: str) -> str:
    """The shape of a refusal: its message with the words, values and columns it names left
    out, so refusals for the same reason count together."""
    shape = re.sub(r"\s*See the prompt guide.*$", "", message)
    shape = re.sub(r"^(Not understood|Characters not understood):.*", r"\1: ...", shape)
    shape = re.sub(r"`[^`]*`", "`...`", shape)
    shape = re.sub(
        r"\b(several tables|several columns|no column of|No key joins)\b.*", r"\1 ...", shape
    )
    shape = re.sub(r"^`\.\.\.`: \S+ has no such column", "`...`: <table> has no such column", shape)
    shape = re.sub(r"^Both the columns .* and a total", "Both the columns ... and a total", shape)
    return re.sub(r"^per \w+:", "per ...:", shape)


_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def vocabulary(dataset: EvalDataset) -> tuple[set[str], set[str]]:
    """The words of the dataset's column names (camelCase, snake_case and spaces split) and
    of the text values its tables hold, case-folded."""
    columns = {
        w.casefold()
        for t in dataset.tables.values()
        for c in t.column_names
        for w in _WORD.findall(c)
    }
    values: set[str] = set()
    for table in dataset.tables.values():
        for i, field_ in enumerate(table.schema):
            if pa.types.is_string(field_.type) or pa.types.is_large_string(field_.type):
                for value in table.column(i).unique().drop_null().to_pylist():
                    values.update(w.casefold() for w in re.findall(r"\w+", value))
    return columns, values


def word_kind(word: str, columns: set[str], values: set[str]) -> str:
    """Why a word the provider did not read might be there: a word of a column's name, a word
    of a value in the data, or neither (phrasing, units, derived measures, misspellings)."""
    folded = word.strip().casefold()
    if folded in columns:
        return "a word of a column name"
    if folded in values:
        return "a word of a value in the data"
    return "neither (phrasing, units, measures, misspellings)"


def failure_line(outcome: Outcome) -> str:
    """One question not answered exactly: its outcome, id, kinds, question and why."""
    detail = " ".join(outcome.detail.split())[:160]
    return (
        f"{outcome.outcome.upper():14} {outcome.id} [{','.join(outcome.kinds)}] "
        f"{outcome.question}\n    {detail}"
    )


def _tally(outcomes: list[Outcome]) -> dict[str, int]:
    counted = Counter(o.outcome for o in outcomes)
    return {"questions": len(outcomes), **{name: counted[name] for name in OUTCOMES}}


def evaluate(names: list[str], failures: bool = False, curated: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    datasets: dict[str, Any] = {}
    everything: list[Outcome] = []
    for name in names:
        dataset = LOADERS[name](curated=curated)
        outcomes = []
        columns, values = vocabulary(dataset)
        for question in load_questions(name).questions:
            outcome = ask(question, dataset, expected_answers(question, dataset))
            outcome.unknown_kinds = [word_kind(w, columns, values) for w in outcome.unknown]
            outcomes.append(outcome)
            if failures and outcome.outcome != "exact":
                print(failure_line(outcome))
        everything += outcomes
        datasets[name] = {
            **_tally(outcomes),
            "package": dataset.package,
            "tables": {n: t.num_rows for n, t in dataset.tables.items()},
        }
    kinds = {
        kind: _tally([o for o in everything if kind in o.kinds])
        for kind in KINDS
        if any(kind in o.kinds for o in everything)
    }
    unknown = Counter(w.strip().casefold() for o in everything for w in o.unknown)
    reasons = Counter(reason(o.detail) for o in everything if o.outcome == "not_understood")
    word_kinds = Counter(k for o in everything for k in o.unknown_kinds)
    return {
        **_tally(everything),
        "layer": "draft and curated addition" if curated else "automatic draft",
        "datasets": datasets,
        "kinds": kinds,
        "wrong_answers": [
            {"id": o.id, "question": o.question, "sql": o.sql, "detail": o.detail}
            for o in everything
            if o.outcome == "wrong"
        ],
        "not_understood_reasons": reasons.most_common(),
        "not_understood_words": unknown.most_common(30),
        "not_understood_word_kinds": dict(word_kinds.most_common()),
        "seconds": time.perf_counter() - started,
        "ask_p50_ms": statistics.median(o.seconds for o in everything) * 1e3,
        "ask_max_ms": max(o.seconds for o in everything) * 1e3,
        "load_average": os.getloadavg()[0],
    }


def _rate(part: int, whole: int) -> str:
    return f"{part} ({100 * part / whole:.0f}%)" if whole else "0"


def report(result: dict[str, Any]) -> list[str]:
    lines = ["| dataset | questions | exact | not understood | wrong |", "|---|---|---|---|---|"]
    for name, r in [*result["datasets"].items(), ("overall", result)]:
        lines.append(
            f"| {name} | {r['questions']} | {_rate(r['exact'], r['questions'])} | "
            f"{_rate(r['not_understood'], r['questions'])} | {_rate(r['wrong'], r['questions'])} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", action="append", choices=sorted(LOADERS))
    parser.add_argument(
        "--failures",
        action="store_true",
        help="print each question not answered exactly, with its reason, as it is asked",
    )
    parser.add_argument(
        "--curated",
        action="store_true",
        help="apply, over the automatic draft, what a person adds to the layer "
        "(bench/nl_eval/<dataset>.curated.yaml): reported apart from the automatic figure",
    )
    args = parser.parse_args()
    result = evaluate(args.dataset or list(LOADERS), failures=args.failures, curated=args.curated)
    print("\n".join(report(result)))
    for wrong in result["wrong_answers"]:
        print(
            f"WRONG {wrong['id']}: {wrong['question']}\n  sql: {wrong['sql']}\n  {wrong['detail']}"
        )
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
