"""The distributed engine's pure parts: sorts as top-N, row-group slices, what counts as a
refusal, answers in DuckDB's names and types, and governance of one slice."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from compute.distributed import (
    ALL_ROWS,
    Refusal,
    _as_single_node,
    _refusal,
    govern_slice,
    slices,
    top_n,
)
from compute.staging import QueryInput
from rivergen.engine.query import limited
from rivergen.engine.sandbox import DIALECT, parse
from rivergen.engine.spec import Filter
from rivergen.services.governance import Governed
from rivergen.settings import Settings


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT a FROM t ORDER BY a", f"SELECT a FROM t ORDER BY a LIMIT {ALL_ROWS}"),
        ("SELECT a FROM t ORDER BY a LIMIT 3", "SELECT a FROM t ORDER BY a LIMIT 3"),
        (
            limited("SELECT a FROM t ORDER BY a DESC", 5),
            f"SELECT * FROM (SELECT a FROM t ORDER BY a DESC LIMIT {ALL_ROWS}) AS limited LIMIT 5",
        ),
        (
            "SELECT a FROM t UNION ALL SELECT b FROM u ORDER BY 1",
            f"SELECT a FROM t UNION ALL SELECT b FROM u ORDER BY 1 LIMIT {ALL_ROWS}",
        ),
        ("SELECT SUM(x) OVER (ORDER BY y) FROM t", "SELECT SUM(x) OVER (ORDER BY y) FROM t"),
    ],
)
def test_every_sort_is_a_top_n(sql: str, expected: str) -> None:
    assert top_n(parse(sql)).sql(dialect=DIALECT) == expected


def test_row_groups_are_sliced_by_stored_size() -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"a": list(range(10_000))}), sink, row_group_size=1000)
    metadata = pq.read_metadata(pa.BufferReader(sink.getvalue()))
    one = metadata.row_group(0).total_byte_size
    assert slices(metadata, 10**9) == [list(range(10))]
    assert slices(metadata, 1) == [[i] for i in range(10)]
    assert slices(metadata, 3 * one) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    empty = pa.BufferOutputStream()
    pq.write_table(pa.table({"a": pa.array([], pa.int64())}), empty)
    assert slices(pq.read_metadata(pa.BufferReader(empty.getvalue()))) in ([[]], [[0]])


def test_daft_errors_are_refusals_and_the_clusters_are_not() -> None:
    class InvalidSQLException(Exception):
        pass

    refusal = _refusal(InvalidSQLException("Daft error: plan\nDue to: Decimal overflow"))
    assert refusal == Refusal("Daft error: plan Due to: Decimal overflow")
    assert _refusal(RuntimeError("DaftError::InternalError outer reference")) is not None
    assert _refusal(RuntimeError("the node died")) is None
    lost = RuntimeError("DaftError::External ray.exceptions.ActorDiedError: the actor died")
    assert _refusal(lost) is None
    assert _refusal(TimeoutError()) is None


def test_a_daft_error_in_a_worker_is_a_refusal() -> None:
    """Raised in one of Daft's Ray workers, Daft's error reaches the driver as Ray's error of
    that task (a class deriving from both)."""
    from daft.exceptions import DaftTypeError
    from ray.exceptions import RayTaskError

    cause = DaftTypeError("Cannot infer supertypes for multiply: precision 60 exceed bounds")
    raised = RayTaskError("RaySwordfishActor.run", "Traceback ...", cause).as_instanceof_cause()
    assert not type(raised).__module__.startswith("daft")
    refusal = _refusal(raised)
    assert refusal is not None and "exceed bounds" in refusal.reason
    lost = RayTaskError(
        "run", "Traceback ...", RuntimeError("ObjectLostError")
    ).as_instanceof_cause()
    assert _refusal(lost) is None


def test_the_answer_takes_duckdbs_names_and_types() -> None:
    daft = pa.table(
        {"l_quantity": pa.array([1, 2], pa.int32()), "s": pa.array(["x", "y"], pa.large_string())}
    )
    shape = pa.schema([("sum(l_quantity)", pa.int64()), ("s", pa.string())])
    answer = _as_single_node(daft, shape)
    assert answer.schema == shape and answer.column(0).to_pylist() == [1, 2]
    # Another shape (a different number of columns) leaves Daft's answer as it is.
    assert _as_single_node(daft, pa.schema([("a", pa.int64())])) is daft


def test_a_slice_is_governed_as_the_single_node_path_governs_its_input() -> None:
    table = pa.table(
        {
            "id": [1, 2, 3],
            "region": ["eu", "us", "eu"],
            "name": ["ann", "bob", "cy"],
            "secret": ["a", "b", "c"],
            "code": pa.array(["1", "2", "3"], pa.string_view()),
        }
    )
    governed = Governed(
        dataset_id=uuid.uuid4(),
        workspace_id=uuid.uuid4(),
        denied_columns=["secret"],
        row_filters=[Filter(column="region", op="==", value="eu")],
        masked={"name": "redact"},
    )
    inp = QueryInput(
        relation="input_0",
        dataset=governed.dataset_id,
        key="k",
        columns=["id", "name", "secret", "code"],
        governed=governed,
    )
    seen = govern_slice(Settings(), inp, table)
    assert seen.column_names == ["id", "name", "code"]
    assert seen.column("id").to_pylist() == [1, 3]
    assert seen.column("name").to_pylist() == ["****", "****"]
    assert not pa.types.is_string_view(seen.schema.field("code").type)
    # Ungoverned, only the columns read, and no view type (Daft reads one as Python objects).
    plain = govern_slice(Settings(), inp.model_copy(update={"governed": None}), table)
    assert plain.column_names == ["id", "name", "secret", "code"]
    assert plain.schema.field("code").type == pa.large_string()
