"""The engine's sandbox, both walls: sqlglot's admission refuses what reads files, the
environment or the engine's state before anything runs, and DuckDB itself (external access
off, configuration locked) refuses the same when a statement is forced past the admission."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rivergen.engine import EngineLimits, execute, run_sql
from rivergen.engine.duck import ParquetFile
from rivergen.errors import BadRequest, RiverGenError, ValidationFailed

TABLE = pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})
SECRET = "rivergen-sandbox-probe"

# Each escape, as a person would send it; the code admission answers with.
ESCAPES = {
    "SELECT * FROM read_csv('/etc/passwd')": "sql_function_not_allowed",
    "SELECT * FROM read_csv_auto('/etc/passwd')": "sql_function_not_allowed",
    "SELECT * FROM read_text('/etc/passwd')": "sql_function_not_allowed",
    "SELECT * FROM read_parquet('/tmp/x.parquet')": "sql_function_not_allowed",
    "SELECT * FROM glob('/etc/*')": "sql_function_not_allowed",
    "SELECT getenv('HOME')": "sql_function_not_allowed",
    "SELECT current_setting('threads')": "sql_function_not_allowed",
    "SELECT * FROM duckdb_settings()": "sql_function_not_allowed",
    "SELECT * FROM duckdb_extensions()": "sql_function_not_allowed",
    "COPY t TO '/tmp/rivergen-sandbox.csv'": "sql_not_read_only",
    "COPY (SELECT * FROM t) TO '/tmp/rivergen-sandbox.csv'": "sql_not_read_only",
    "ATTACH '/tmp/rivergen-sandbox.db' AS other": "sql_not_read_only",
    "INSTALL httpfs": "sql_not_read_only",
    "LOAD httpfs": "sql_not_read_only",
    "SET threads = 64": "sql_not_read_only",
    "SET enable_external_access = true": "sql_not_read_only",
    "PRAGMA database_list": "sql_not_read_only",
    "EXPORT DATABASE '/tmp/rivergen-sandbox'": "sql_invalid",
    "CREATE TABLE x AS SELECT * FROM t": "sql_not_read_only",
    "SELECT * FROM t; SELECT * FROM read_csv('/etc/passwd')": "sql_multiple_statements",
    "SELECT * FROM '/etc/passwd'": "table_not_found",
    "SELECT * FROM information_schema.tables": "table_not_found",
    "SELECT * FROM t UNION ALL SELECT * FROM read_csv('/etc/passwd')": "sql_function_not_allowed",
    "WITH x AS (SELECT * FROM glob('/*')) SELECT * FROM x": "sql_function_not_allowed",
}

# The same escapes forced straight into the engine (no admission): DuckDB refuses each.
FORCED = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    f"SELECT getenv('{SECRET}')",
    "COPY t TO '/tmp/rivergen-sandbox.csv'",
    "ATTACH '/tmp/rivergen-sandbox.db' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET threads = 64",
    "SET enable_external_access = true",
    "SELECT * FROM '/etc/passwd'",
]


@pytest.mark.parametrize(("sql", "code"), list(ESCAPES.items()))
def test_admission_refuses_escapes_before_anything_runs(sql: str, code: str) -> None:
    with pytest.raises(RiverGenError) as refused:
        run_sql(sql, {"t": TABLE})
    assert isinstance(refused.value, BadRequest | ValidationFailed)
    assert refused.value.error_code == code, refused.value.message


@pytest.mark.parametrize("sql", FORCED)
def test_the_engine_refuses_escapes_forced_past_admission(
    sql: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET, "the value a query must never read")
    with pytest.raises(ValidationFailed) as refused:
        execute(sql, {"t": TABLE}, EngineLimits())
    assert refused.value.error_code == "sql_invalid"
    assert "root:" not in refused.value.message  # nothing of /etc/passwd
    assert "must never read" not in str(refused.value.details)
    assert not os.path.exists("/tmp/rivergen-sandbox.csv")
    assert not os.path.exists("/tmp/rivergen-sandbox.db")


def test_a_query_past_its_time_is_interrupted() -> None:
    with pytest.raises(ValidationFailed) as refused:
        execute(
            "SELECT count(*) FROM range(100000000) a, range(100000) b",
            {},
            EngineLimits(timeout_s=0.5),
        )
    assert refused.value.error_code == "query_timeout"
    assert refused.value.details == {"timeout_s": 0.5}


def test_a_query_past_its_memory_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        execute("SELECT list(range) FROM range(50000000)", {}, EngineLimits(memory_mb=64))
    assert refused.value.error_code == "query_too_large"


def test_bad_sql_says_where() -> None:
    with pytest.raises(ValidationFailed) as refused:
        run_sql("SELECT nope\nFROM t", {"t": TABLE})
    assert refused.value.error_code == "sql_invalid"
    assert "nope" in refused.value.message  # the engine's message names what does not bind
    assert "nope" in refused.value.details["engine_message"]
    with pytest.raises(ValidationFailed) as parse:
        run_sql("SELECT id FROM t WHERE (id = 1", {"t": TABLE})
    assert parse.value.error_code == "sql_invalid"
    assert parse.value.details["line"] == 1 and parse.value.details["column"] >= 1
    with pytest.raises(ValidationFailed) as later:
        run_sql("SELECT id\nFROM t\nWHERE id = = 1", {"t": TABLE})
    assert later.value.details["line"] == 3


def test_a_parquet_input_is_the_only_file_the_engine_may_open(tmp_path: Path) -> None:
    mine, other = tmp_path / "mine.parquet", tmp_path / "other.parquet"
    pq.write_table(TABLE, mine)
    pq.write_table(TABLE, other)
    relations = {"t": ParquetFile(str(mine))}
    got = run_sql("SELECT name FROM t WHERE id >= 2 ORDER BY id", relations)
    assert got.column("name").to_pylist() == ["b", "c"]
    for sql in (
        f"SELECT * FROM read_parquet('{other}')",
        f"SELECT * FROM '{other}'",
        f"SELECT * FROM glob('{tmp_path}/*')",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"COPY t TO '{tmp_path}/out.csv'",
        f"SET allowed_paths = ['{other}']",
    ):
        with pytest.raises(ValidationFailed) as refused:
            execute(sql, relations, EngineLimits())
        assert refused.value.error_code == "sql_invalid", sql
    assert not (tmp_path / "out.csv").exists()


def test_a_reused_database_keeps_nothing_of_the_query_before(tmp_path: Path) -> None:
    """Queries with the same limits and files share a database: what one leaves (a table, a
    view, a macro, its own relations) is gone for the next."""
    path = tmp_path / "t.parquet"
    pq.write_table(TABLE, path)
    relations = {"t": ParquetFile(str(path))}
    limits = EngineLimits()
    for sql in (
        "CREATE TABLE kept AS SELECT * FROM t",
        "CREATE VIEW kept AS SELECT * FROM t",
        "CREATE MACRO kept(x) AS x + 1",
    ):
        with contextlib.suppress(RiverGenError):  # refused outright is as good
            execute(sql, relations, limits)
        for after in ("SELECT * FROM kept", "SELECT kept(1)"):
            with pytest.raises(ValidationFailed) as gone:
                execute(after, relations, limits)
            assert gone.value.error_code == "sql_invalid", (sql, after)
    # Another query's relation name is not this one's.
    execute("SELECT * FROM t", {"extra": TABLE, **relations}, limits)
    with pytest.raises(ValidationFailed):
        execute("SELECT * FROM extra", relations, limits)
    assert execute("SELECT count(*) AS n FROM t", relations, limits).column("n").to_pylist() == [3]
