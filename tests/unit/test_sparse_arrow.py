"""Arrow to CSR: conforming tables map without a copy; the rest copy only where documented,
and wrong inputs are refused with a code."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from rivergen.errors import ValidationFailed
from rivergen.sparse.arrow import (
    csr_from_lists,
    dense_block,
    dense_column,
    graph_from_edges,
    one_hot,
    read_edge_list,
)
from tests.conftest import SHARED_DATA


def lists_table(
    rows: list[list[tuple[int, float]]], index_type: pa.DataType = pa.int32()
) -> pa.Table:
    return pa.table(
        {
            "indices": pa.array([[c for c, _ in r] for r in rows], pa.list_(index_type)),
            "values": pa.array([[v for _, v in r] for r in rows], pa.list_(pa.float64())),
        }
    )


def dense_of(rows: list[list[tuple[int, float]]], n_cols: int) -> np.ndarray:
    out = np.zeros((len(rows), n_cols))
    for i, row in enumerate(rows):
        for c, v in row:
            out[i, c] += v
    return out


ROWS = [[(0, 1.0), (3, 2.5)], [], [(1, -4.0)], [(2, 7.0), (0, 0.5), (3, 1.0)]]


def child_buffers(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    indices = table.column("indices").chunk(0)
    return (
        indices.offsets.to_numpy(zero_copy_only=True),
        indices.values.to_numpy(zero_copy_only=True),
        table.column("values").chunk(0).values.to_numpy(zero_copy_only=True),
    )


@pytest.mark.parametrize("index_type", [pa.int32(), pa.int64()])
def test_conforming_list_columns_share_every_buffer(index_type: pa.DataType) -> None:
    table = lists_table(ROWS, index_type)
    offsets, indices, values = child_buffers(table)
    matrix = csr_from_lists(table, allow_copy=False)
    assert np.shares_memory(matrix.indices, indices)
    assert np.shares_memory(matrix.data, values)
    if index_type == pa.int32():  # list offsets are int32: indptr too is the Arrow buffer
        assert np.shares_memory(matrix.indptr, offsets)
    assert matrix.indices.dtype == index_type.to_pandas_dtype()
    np.testing.assert_array_equal(matrix.toarray(), dense_of(ROWS, 4))


def test_large_list_offsets_are_the_indptr_with_int64_indices() -> None:
    table = pa.table(
        {
            "indices": pa.array([[c for c, _ in r] for r in ROWS], pa.large_list(pa.int64())),
            "values": pa.array([[v for _, v in r] for r in ROWS], pa.large_list(pa.float64())),
        }
    )
    matrix = csr_from_lists(table, allow_copy=False)
    assert np.shares_memory(matrix.indptr, table.column("indices").chunk(0).offsets.to_numpy())
    np.testing.assert_array_equal(matrix.toarray(), dense_of(ROWS, 4))


def test_a_slice_rebases_only_the_indptr() -> None:
    table = lists_table(ROWS).slice(2, 2)
    _, indices, values = child_buffers(table)
    matrix = csr_from_lists(table, n_cols=4, allow_copy=False)
    assert np.shares_memory(matrix.indices, indices)
    assert np.shares_memory(matrix.data, values)
    np.testing.assert_array_equal(matrix.toarray(), dense_of(ROWS[2:], 4))


def test_several_chunks_are_a_copy_refused_on_request() -> None:
    table = pa.concat_tables([lists_table(ROWS[:2]), lists_table(ROWS[2:])])
    with pytest.raises(ValidationFailed) as refused:
        csr_from_lists(table, allow_copy=False)
    assert refused.value.error_code == "arrow_copy_required"
    np.testing.assert_array_equal(csr_from_lists(table).toarray(), dense_of(ROWS, 4))


def test_narrow_index_types_are_cast() -> None:
    table = lists_table(ROWS, pa.int8())
    with pytest.raises(ValidationFailed, match="int8"):
        csr_from_lists(table, allow_copy=False)
    np.testing.assert_array_equal(csr_from_lists(table).toarray(), dense_of(ROWS, 4))


def test_null_rows_are_empty_rows() -> None:
    # a null slot that spans values (possible in Arrow) must drop them: a copy
    offsets = pa.array([0, 2, 3, 4], pa.int32())
    mask = pa.array([False, True, False])
    indices = pa.ListArray.from_arrays(offsets, pa.array([0, 1, 2, 0], pa.int32()), mask=mask)
    values = pa.ListArray.from_arrays(offsets, pa.array([1.0, 2.0, 3.0, 4.0]))
    table = pa.table({"indices": indices, "values": values})
    with pytest.raises(ValidationFailed, match="null rows"):
        csr_from_lists(table, allow_copy=False)
    np.testing.assert_array_equal(
        csr_from_lists(table, n_cols=3).toarray(),
        [[1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [4.0, 0.0, 0.0]],
    )
    # an empty null slot (what pa.array builds) costs nothing
    free = lists_table(ROWS).set_column(0, "indices", pa.array([[0, 3], None, [1], [2, 0, 3]]))
    assert csr_from_lists(free, allow_copy=False).nnz == 6


@pytest.mark.parametrize(
    ("table", "code"),
    [
        (pa.table({"indices": [1, 2], "values": [[1.0], [2.0]]}), "sparse_not_a_list_column"),
        (pa.table({"indices": [["a"]], "values": [[1.0]]}), "sparse_indices_not_integer"),
        (pa.table({"indices": [[0, None]], "values": [[1.0, 2.0]]}), "sparse_null_index"),
        (pa.table({"indices": [[0]], "values": [["x"]]}), "sparse_values_not_numeric"),
        (pa.table({"indices": [[0, 1]], "values": [[1.0]]}), "sparse_lists_misaligned"),
        (pa.table({"indices": [[-1]], "values": [[1.0]]}), "sparse_index_out_of_range"),
        (pa.table({"idx": [[0]], "values": [[1.0]]}), "sparse_column_missing"),
    ],
)
def test_wrong_list_columns_are_refused_with_a_code(table: pa.Table, code: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        csr_from_lists(table)
    assert refused.value.error_code == code


def test_index_beyond_n_cols_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        csr_from_lists(lists_table(ROWS), n_cols=3)
    assert refused.value.error_code == "sparse_index_out_of_range"


row_strategy = st.lists(
    st.lists(st.tuples(st.integers(0, 29), st.floats(-1e3, 1e3)), max_size=6), max_size=25
)


@settings(max_examples=60, deadline=None)
@given(rows=row_strategy, index_type=st.sampled_from([pa.int32(), pa.int64(), pa.uint16()]))
def test_any_list_table_gives_the_same_matrix_as_scipy(
    rows: list[list[tuple[int, float]]], index_type: pa.DataType
) -> None:
    matrix = csr_from_lists(lists_table(rows, index_type), n_cols=30)
    assert matrix.shape == (len(rows), 30)
    np.testing.assert_array_equal(matrix.toarray(), dense_of(rows, 30))


def test_edges_become_a_graph_with_compact_nodes_and_summed_parallel_edges() -> None:
    edges = pa.table({"src": [10, 10, 30, 10], "dst": [30, 20, 10, 30], "weight": [1, 2, 3, 4]})
    graph = graph_from_edges(edges)
    np.testing.assert_array_equal(graph.nodes, [10, 20, 30])
    np.testing.assert_array_equal(
        graph.matrix.toarray(), [[0.0, 2.0, 5.0], [0.0, 0.0, 0.0], [3.0, 0.0, 0.0]]
    )
    unweighted = graph_from_edges(pa.table({"src": ["a", "b"], "dst": ["b", "c"]}))
    np.testing.assert_array_equal(unweighted.nodes, ["a", "b", "c"])
    assert unweighted.matrix.sum() == 2


@pytest.mark.parametrize(
    ("table", "code"),
    [
        (pa.table({"src": [1], "dst": [2], "weight": ["heavy"]}), "graph_weight_not_numeric"),
        (
            pa.table({"src": [1], "dst": [2], "weight": pa.array([None], pa.float64())}),
            "graph_null_weight",
        ),
        (pa.table({"src": [1, None], "dst": [2, 3]}), "graph_null_node"),
        (pa.table({"src": [1.5], "dst": [2.5]}), "graph_node_type"),
    ],
)
def test_wrong_edge_tables_are_refused_with_a_code(table: pa.Table, code: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        graph_from_edges(table)
    assert refused.value.error_code == code


def test_the_wiki_vote_edge_list_reads_as_a_graph() -> None:
    table = read_edge_list(SHARED_DATA / "graphs" / "wiki-vote.txt")
    graph = graph_from_edges(table, weight=None)
    assert table.num_rows == graph.matrix.nnz == 103_689
    assert graph.n_nodes == 7_115


def test_edge_list_comment_lines_are_skipped(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "edges.txt"  # type: ignore[operator]
    path.write_text("# Directed graph\n# FromNodeId\tToNodeId\n1\t2\n2\t3\n")
    table = read_edge_list(path)
    assert table.column("src").to_pylist() == [1, 2]


def test_a_dictionary_column_is_one_hot_over_its_codes() -> None:
    column = pa.array(["red", "blue", "red", "green"]).dictionary_encode()
    block = one_hot(column, allow_copy=False)
    assert np.shares_memory(block.matrix.indices, column.indices.to_numpy(zero_copy_only=True))
    assert block.categories == ["red", "blue", "green"]
    np.testing.assert_array_equal(
        block.matrix.toarray(), [[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]]
    )


def test_one_hot_nulls_are_empty_rows_and_plain_strings_are_encoded() -> None:
    with_nulls = pa.array(["a", None, "b"]).dictionary_encode()
    with pytest.raises(ValidationFailed):
        one_hot(with_nulls, allow_copy=False)
    np.testing.assert_array_equal(one_hot(with_nulls).matrix.toarray(), [[1, 0], [0, 0], [0, 1]])
    assert one_hot(pa.chunked_array([["x", "y"], ["x"]])).matrix.sum(axis=0).tolist() == [[2, 1]]


def test_numeric_columns_as_dense_blocks() -> None:
    table = pa.table({"a": [1.0, 2.0, 3.0], "b": pa.array([1, None, 3], pa.int64())})
    view = dense_column(table.column("a"), allow_copy=False)
    assert np.shares_memory(view, table.column("a").chunk(0).to_numpy(zero_copy_only=True))
    assert dense_block(table, ["a"]).shape == (3, 1)
    block = dense_block(table, ["a", "b"], null_fill=0.0)
    np.testing.assert_array_equal(block, [[1.0, 1.0], [2.0, 0.0], [3.0, 3.0]])
    with pytest.raises(ValidationFailed) as refused:
        dense_column(pa.array(["x"]))
    assert refused.value.error_code == "sparse_values_not_numeric"


def test_the_matrix_is_a_plain_scipy_csr() -> None:
    matrix = csr_from_lists(lists_table(ROWS))
    assert isinstance(matrix, sp.csr_matrix)
    np.testing.assert_allclose(matrix @ np.ones(4), dense_of(ROWS, 4) @ np.ones(4))


def test_a_weighted_edge_list_keeps_large_ids_exact(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "weighted.txt"  # type: ignore[operator]
    path.write_text("# src dst weight\n9007199254740993 2 0.5\n2 3 1.5\n")
    table = read_edge_list(path)
    assert table.column("src").to_pylist() == [9007199254740993, 2]
    assert table.column("weight").to_pylist() == [0.5, 1.5]
