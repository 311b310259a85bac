"""The built-in provider on the question corpus against the engine alone.

    python -m bench.prompts [--rounds N]    (no services needed; prints one JSON line)

Each round asks every corpus question (the shop sample, ``tests/unit/test_nl_corpus.py``):
translate, compile and run the answer over the Arrow tables. Reference: the same questions'
compiled queries run directly on the engine (``run_compiled``), SQL parsing and the
translation left out. One process, one thread; the first round is a warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from rivergen.samples import load_shop, shop_catalog, shop_ids
from rivergen.services.execution.sql import CompiledQuery, compile_sql, run_compiled
from rivergen.services.planning.builtin import translate
from rivergen.services.planning.intents import QueryIntent
from tests.unit.test_nl_corpus import CORPUS


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    catalog = shop_catalog()
    ids = shop_ids()
    tables = {ids[name]: table for name, table in load_shop().items()}
    questions = [case.question for case in CORPUS]
    compiled: dict[str, CompiledQuery] = {}
    for question in questions:
        intent = translate(question, catalog)
        if isinstance(intent, QueryIntent):
            compiled[question] = compile_sql(intent.sql, catalog)
    full: list[float] = []
    engine: list[float] = []
    for round_ in range(args.rounds + 1):
        for question in questions:
            start = time.perf_counter()
            intent = translate(question, catalog)
            if isinstance(intent, QueryIntent):
                run_compiled(compile_sql(intent.sql, catalog), tables)
            took = time.perf_counter() - start
            if question in compiled:
                start = time.perf_counter()
                run_compiled(compiled[question], tables)
                reference = time.perf_counter() - start
                if round_:
                    engine.append(reference)
            if round_:
                full.append(took)
    result: dict[str, Any] = {
        "questions": len(questions),
        "answered": len(compiled),
        "rounds": args.rounds,
        "prompts_per_s": len(full) / sum(full),
        "p50_ms": statistics.median(full) * 1e3,
        "p99_ms": _percentile(full, 0.99) * 1e3,
        "engine_per_s": len(engine) / sum(engine),
        "engine_p50_ms": statistics.median(engine) * 1e3,
        "engine_p99_ms": _percentile(engine, 0.99) * 1e3,
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
