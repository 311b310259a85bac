"""TPC-H through the API: the 22 queries as `query` jobs against DuckDB alone on the same
Parquet files in one process.

    python -m bench.tpch [--scale 1] [--runs 3] [--only q01,q06]
        (the services' env exported; progress on stderr, one JSON line last, also kept in
        bench/.work/tpch/sf<scale>.json)

Data: `tpchgen-cli` writes the 8 tables as Parquet at the scale factor into
`bench/.work/tpch/sf<scale>/` (git-ignored), once; later runs reuse them. The queries are
`bench/tpch_queries/qNN.sql`: the standard text with the validation parameters.

The platform: the whole API (`create_app`) under uvicorn in this process, jobs on its Ray
(the supervisor actor and its tasks, 2 CPUs), in a Postgres database of its own on the
services' server (`rivergen_bench`: a job supervisor adopts every active job of its database,
and other platforms on this machine share the services' one). A new account, its
organization on the premium plan (1 TiB of storage), uploads each table through the part
URLs and makes it a dataset of the same name (`POST /datasets`, format parquet). Each query is
one job, `{"kind": "query", "params": {"sql": ...}}`, timed from before `POST
/jobs?wait_s=60` until its answer, which comes when the job has ended. The job's DuckDB runs
with the reference's threads (`RIVERGEN_ENGINE__THREADS`).

Reference: DuckDB (`duckdb.connect()`, all cores) in this process, views over `read_parquet`
of the same files, each query run to an Arrow table.

Each query: one warm-up and `runs` timed runs of each, reference then platform (alternating
per query, so the shared machine's load falls on both alike); medians count. The job's result
(`GET /jobs/{id}/result`, its first page) must equal DuckDB's: same columns, row count and
values (decimals exactly, floats to 1e-9 relative), in order.

Where a job's time goes: its own timestamps (created, started, finished), Ray's timeline of
its task (which reads, queries and writes the result), and the task's steps replayed once in
this process with the same functions, each timed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb
import httpx
import ray
from fastapi import FastAPI

from bench.api import (
    FINISHED,
    call,
    create_dataset,
    direct_upload,
    serving,
    set_plan,
    sign_up,
    wait_job,
)
from compute.objects import ArrowObjects
from compute.staging import QueryInput, query_input, read_dataset, stage_table
from rivergen.accounts.credentials import generate_private_key_pem
from rivergen.api.registry import registry_of
from rivergen.engine import EngineLimits, admit, execute
from rivergen.engine.duck import resolver
from rivergen.jsonvalues import json_value
from rivergen.settings import Settings

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "tpch_queries"
CACHE = HERE / ".work" / "tpch"
TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")
# The benchmark's own Postgres database on the services' server (see bench.api.own_database).
DATABASE = "rivergen_bench"
# Rows of a job's result compared with DuckDB's (one page of `GET /jobs/{id}/result`).
CHECKED_ROWS = 5000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# Data ----------------------------------------------------------------------------------------


def tpchgen() -> str:
    """The `tpchgen-cli` of this interpreter's environment (or on PATH)."""
    beside = Path(sys.executable).parent / "tpchgen-cli"
    found = str(beside) if beside.exists() else shutil.which("tpchgen-cli")
    if found is None:
        raise SystemExit("tpchgen-cli is not installed: pip install tpchgen-cli")
    return found


def generate(scale: float) -> Path:
    """The 8 tables as Parquet at ``scale`` (generated once into the cache)."""
    directory = CACHE / f"sf{scale:g}"
    if all((directory / f"{table}.parquet").exists() for table in TABLES):
        return directory
    partial = CACHE / f".sf{scale:g}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    log(f"generating TPC-H SF {scale:g} into {directory}")
    subprocess.run(
        [
            tpchgen(),
            "parquet",
            "--scale-factor",
            f"{scale:g}",
            "--output-dir",
            str(partial),
            "--no-progress",
            "--quiet",
        ],
        check=True,
    )
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)
    return directory


def queries(only: list[str] | None = None) -> dict[str, str]:
    """``{"q01": sql, ...}`` from `bench/tpch_queries/` (all 22, or those named)."""
    found = {path.stem: path.read_text() for path in sorted(QUERIES.glob("q*.sql"))}
    if only:
        missing = sorted(set(only) - set(found))
        if missing:
            raise SystemExit(f"no such queries: {', '.join(missing)}")
        found = {name: sql for name, sql in found.items() if name in only}
    return found


# Results -------------------------------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return Decimal(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def same_value(expected: Any, got: Any) -> bool:
    """Equal as the API shows values: decimals exactly (whatever their scale), floats to 1e-9
    relative (a parallel sum adds in another order), everything else as is."""
    if expected == got:
        return True
    x, y = _number(expected), _number(got)
    if x is None or y is None:
        return False
    if x == y:
        return True
    floats = isinstance(expected, float) or isinstance(got, float)
    return floats and math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12)


def compare(columns: list[str], rows: list[list[Any]], page: dict[str, Any]) -> str | None:
    """None if the job's result page equals DuckDB's result, else what differs."""
    got_columns = [c["name"] for c in page["columns"]]
    if got_columns != columns:
        return f"columns {got_columns} != {columns}"
    if page["row_count"] != len(rows):
        return f"{page['row_count']} rows != {len(rows)}"
    for i, (want, have) in enumerate(zip(rows, page["rows"], strict=False)):
        got = [have[c] for c in columns]
        if not all(same_value(a, b) for a, b in zip(want, got, strict=True)):
            return f"row {i}: {got} != {want}"
    if len(page["rows"]) != min(len(rows), CHECKED_ROWS):
        return f"the page holds {len(page['rows'])} rows"
    return None


# Reference -----------------------------------------------------------------------------------


class Reference:
    """DuckDB alone in this process: a view over each table's Parquet file."""

    def __init__(self, directory: Path) -> None:
        self.connection = duckdb.connect()
        for table in TABLES:
            path = str(directory / f"{table}.parquet").replace("'", "''")
            self.connection.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}')")

    def run(self, sql: str) -> tuple[float, list[str], list[list[Any]]]:
        """Seconds to run ``sql`` to an Arrow table; its columns and rows as the API shows
        values (``json_value``)."""
        started = time.perf_counter()
        table = self.connection.sql(sql).to_arrow_table()
        seconds = time.perf_counter() - started
        rows = [[json_value(v) for v in row.values()] for row in table.to_pylist()]
        return seconds, table.column_names, rows


# The platform --------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 * 1024 * 1024):
            sha.update(chunk)
    return sha.hexdigest()


def _read(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(length)


async def upload_tables(
    http: httpx.AsyncClient, headers: dict[str, str], directory: Path
) -> dict[str, Any]:
    """Each table's file uploaded and made a dataset named after the table."""
    tables: dict[str, Any] = {}
    for table in TABLES:
        path = directory / f"{table}.parquet"
        size = path.stat().st_size
        started = time.perf_counter()
        sha256 = await asyncio.to_thread(_sha256, path)

        async def read(offset: int, length: int, path: Path = path) -> bytes:
            return await asyncio.to_thread(_read, path, offset, length)

        file_id, _ = await direct_upload(http, headers, path.name, size, sha256, read)
        uploaded = time.perf_counter()
        dataset = await create_dataset(http, headers, table, file_id, {"format": "parquet"})
        made = time.perf_counter()
        version = dataset["versions"][-1] if dataset.get("versions") else {}
        tables[table] = {
            "parquet_bytes": size,
            "rows": version.get("row_count"),
            "upload_s": uploaded - started,
            "dataset_s": made - uploaded,
            "dataset_id": dataset["id"],
        }
        log(
            f"{table}: {size / 1e6:.1f} MB uploaded in {uploaded - started:.2f} s, "
            f"dataset in {made - uploaded:.2f} s"
        )
    return tables


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


@dataclass
class Platform:
    """The platform as this benchmark reaches it: its HTTP API as one account, and (for the
    profile only) its settings and database."""

    app: FastAPI
    http: httpx.AsyncClient
    headers: dict[str, str]

    async def run_job(self, sql: str) -> dict[str, Any]:
        """One query job, from before its submission (`POST /jobs?wait_s=`, answered when the
        job has ended) until its answer: the wall time, the job's own timestamps (epoch
        seconds) and its pinned inputs."""
        began_at = time.time()
        started = time.perf_counter()
        accepted = await call(
            self.http,
            "POST",
            "/api/v1/jobs",
            expect=202,
            headers=self.headers,
            params={"wait_s": 60},
            json={"kind": "query", "params": {"sql": sql}},
        )
        job = accepted.json()
        if job["state"] not in FINISHED:
            job = await wait_job(self.http, self.headers, job["job_id"])
        wall = time.perf_counter() - started
        seen_at = began_at + wall
        if job["state"] != "succeeded":
            raise RuntimeError(f"job {job['id']} {job['state']}: {job['error'] or job['message']}")
        created, begun, finished = (
            _epoch(job[k]) for k in ("created_at", "started_at", "finished_at")
        )
        return {
            "id": job["id"],
            "wall_s": wall,
            "submit_s": created - began_at,
            "queued_s": begun - created,
            "running_s": finished - begun,
            "seen_s": seen_at - finished,
            "compute_s": job["compute_seconds"],
            "created": created,
            "started": begun,
            "finished": finished,
            "inputs": job["params"]["inputs"],
        }

    async def result_page(self, job: str) -> Any:
        response = await call(
            self.http,
            "GET",
            f"/api/v1/jobs/{job}/result",
            expect=200,
            headers=self.headers,
            params={"limit": CHECKED_ROWS},
        )
        return response.json()

    async def object_key(self, dataset: str, version: int) -> str:
        async with registry_of(self.app).clients.db.transaction(
            self.headers["X-Workspace-ID"]
        ) as conn:
            key: str = await conn.fetchval(
                "SELECT object_key FROM dataset_versions WHERE dataset_id = $1 AND version = $2",
                uuid.UUID(dataset),
                version,
            )
        return key


# Where a job's time goes ---------------------------------------------------------------------


def task_spans(events: list[dict[str, Any]], job: dict[str, Any]) -> dict[str, float]:
    """The job's phases from its timestamps and Ray's timeline of its task (which reads the
    inputs, runs DuckDB and writes the result), in seconds."""
    span: tuple[float, float] | None = None
    for event in sorted(events, key=lambda e: float(e.get("ts", 0))):
        task = str(event.get("cat", "")).removeprefix("task::")
        begin = float(event.get("ts", 0)) / 1e6
        ours = task.endswith("QueryEngine.run") and job["started"] <= begin <= job["finished"]
        if event.get("ph") == "X" and ours:
            span = (begin, begin + float(event["dur"]) / 1e6)
            break
    if span is None:
        return {}
    query_at, query_end = span
    return {
        "to_task_s": query_at - job["started"],
        "query_task_s": query_end - query_at,
        "record_s": job["finished"] - query_end,
    }


def replay(settings: Settings, sql: str, inputs: list[QueryInput]) -> dict[str, Any]:
    """The query task's work and the result's write, in this process, with the job's
    functions, threads and memory: admit the SQL, run it over the inputs as the task gets them
    (`query_input`: the stored Parquet scanned by DuckDB with pushdown), write the result
    (`stage_table`). Then the same query apart from the reading: the inputs' loaded columns
    read into memory first (`read_dataset`), DuckDB over those tables."""
    objects = ArrowObjects.from_settings(settings)
    limits = EngineLimits.of(settings.engine)
    began = time.perf_counter()
    names = {item.name: item.relation for item in inputs if item.name is not None}
    admitted = admit(sql, lambda written: names.get(written) or resolver(names)(written))
    admitted_at = time.perf_counter()
    table = execute(admitted.sql, {i.relation: query_input(settings, i) for i in inputs}, limits)
    ran = time.perf_counter()
    key = f"bench/tpch/{uuid.uuid4().hex}.parquet"
    stage_table(settings, table, key)
    written = time.perf_counter()
    objects.delete(key)
    tables = {i.relation: read_dataset(settings, i.key, i.columns) for i in inputs}
    loaded = time.perf_counter()
    execute(admitted.sql, tables, limits)
    alone = time.perf_counter()
    return {
        "admit_s": admitted_at - began,
        "engine_s": ran - admitted_at,
        "write_s": written - ran,
        "read_s": loaded - written,
        "duckdb_s": alone - loaded,
        "threads": limits.threads,
        "input_mb": sum(t.nbytes for t in tables.values()) / 1e6,
        "input_columns": sum(t.num_columns for t in tables.values()),
    }


async def profile(platform: Platform, sql: str, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the timed jobs' phases, and one replay of their steps in this process."""
    events = await asyncio.to_thread(ray.timeline)
    phases = [p for p in (task_spans(events, job) for job in jobs) if p]
    found = {k: statistics.median(p[k] for p in phases) for k in (phases[0] if phases else {})}
    inputs = [
        QueryInput(
            relation=f"input_{i}",
            name=written,
            dataset=pin["dataset"],
            key=await platform.object_key(pin["dataset"], pin["version"]),
            columns=pin["columns"],
        )
        for i, (written, pin) in enumerate(jobs[-1]["inputs"].items())
    ]
    settings = platform.app.state.settings
    return found | await asyncio.to_thread(replay, settings, sql, inputs)


# The run -------------------------------------------------------------------------------------


async def clean_up(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Delete the workspace's datasets and files (the S3 server holds objects in memory)."""
    for listing, item in (
        ("/api/v1/datasets", "/api/v1/datasets/{}"),
        ("/api/v1/storage/files", "/api/v1/storage/files/{}"),
    ):
        while True:
            page = await call(http, "GET", listing, headers=headers, params={"limit": 100})
            items = page.json().get("items", []) if page.status_code == 200 else []
            deleted = 0
            for entry in items:
                gone = await call(http, "DELETE", item.format(entry["id"]), headers=headers)
                deleted += gone.status_code == 204
            if not deleted:
                break


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(run[key]) for run in runs)


async def measure(directory: Path, texts: dict[str, str], runs: int, port: int) -> dict[str, Any]:
    reference = Reference(directory)
    async with serving(port, database=DATABASE) as (app, http):
        headers = await sign_up(http, "tpch")
        await set_plan(app, headers, "premium")
        platform = Platform(app, http, headers)
        try:
            tables = await upload_tables(http, headers, directory)
            results = []
            for name, sql in texts.items():
                results.append(await measure_query(platform, reference, name, sql, runs))
        finally:
            await clean_up(http, headers)
    ratios = [r["ratio"] for r in results]
    return {
        "tables": tables,
        "queries": results,
        "median_ratio": statistics.median(ratios),
        "all_equal": all(r["equal"] for r in results),
    }


async def measure_query(
    platform: Platform, reference: Reference, name: str, sql: str, runs: int
) -> dict[str, Any]:
    """One warm-up and ``runs`` timed runs of DuckDB, then of the job; medians."""
    ref_times: list[float] = []
    jobs: list[dict[str, Any]] = []
    columns: list[str] = []
    rows: list[list[Any]] = []
    for i in range(runs + 1):
        seconds, columns, rows = await asyncio.to_thread(reference.run, sql)
        if i:
            ref_times.append(seconds)
    for i in range(runs + 1):
        job = await platform.run_job(sql)
        if i:
            jobs.append(job)
    page = await platform.result_page(jobs[-1]["id"])
    difference = compare(columns, rows, page)
    reference_s, job_s = statistics.median(ref_times), _median(jobs, "wall_s")
    phases = await profile(platform, sql, jobs)
    result = {
        "query": name,
        "reference_s": reference_s,
        "job_s": job_s,
        "ratio": reference_s / job_s,
        "rows": len(rows),
        "equal": difference is None,
        "difference": difference,
        "submit_s": _median(jobs, "submit_s"),
        "queued_s": _median(jobs, "queued_s"),
        "running_s": _median(jobs, "running_s"),
        "seen_s": _median(jobs, "seen_s"),
        "compute_s": _median(jobs, "compute_s"),
        "job_ids": [job["id"] for job in jobs],
        "profile": phases,
    }
    log(
        f"{name}: DuckDB {reference_s:.3f} s, job {job_s:.3f} s, ratio {result['ratio']:.3f}, "
        f"{len(rows)} rows, {difference or 'equal'}; "
        + ", ".join(f"{k} {v:.3f}" for k, v in phases.items() if isinstance(v, float))
    )
    return result


def reference_threads() -> int:
    with duckdb.connect() as con:
        row = con.execute("SELECT current_setting('threads')").fetchone()
    return int(row[0]) if row else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor.")
    parser.add_argument("--runs", type=int, default=3, help="Timed runs of each (medians).")
    parser.add_argument("--only", help="Comma-separated queries, e.g. q01,q06 (default: all).")
    parser.add_argument("--port", type=int, default=23200)
    args = parser.parse_args()
    directory = generate(args.scale)
    texts = queries(args.only.split(",") if args.only else None)
    os.environ.setdefault("RIVERGEN_AUTH__JWT_PRIVATE_KEY", generate_private_key_pem())
    # The job's DuckDB runs with as many threads as the reference's (all the cores).
    os.environ.setdefault("RIVERGEN_ENGINE__THREADS", str(reference_threads()))
    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False)
    try:
        result = asyncio.run(measure(directory, texts, args.runs, args.port))
    finally:
        ray.shutdown()
    result.update(
        {
            "scale": args.scale,
            "runs": args.runs,
            "cpus": os.cpu_count(),
            "duckdb": duckdb.__version__,
            "load_average": os.getloadavg()[0],
        }
    )
    text = json.dumps(result)
    (CACHE / f"sf{args.scale:g}.json").write_text(text + "\n")  # the last run's figures, kept
    print(text)


if __name__ == "__main__":
    main()
