"""Arrow data as SciPy CSR, without copying where Arrow allows it.

What maps without a copy (the CSR's arrays are read-only views of the Arrow buffers):

- a pair of list columns, ``list<int32|int64>`` indices and ``list<float64>`` values:
  ``indptr`` is the list offsets, ``indices`` and ``data`` the flattened child buffers;
- a dictionary-encoded column's codes (``int32``/``int64`` indices) as a one-hot CSR's
  ``indices`` (its ``indptr`` is ``0..n`` and its ``data`` ones: both new, as Arrow has neither);
- a numeric column as a 1-D dense array.

When a copy is unavoidable, and what it costs:

- **several chunks**: the chunks are concatenated (an O(nnz) copy of each buffer);
- **nulls**: a null row of a list column whose slot spans values (those values are dropped),
  a null code of a categorical (its row becomes empty), a null in a numeric column (filled):
  O(nnz) copies. Nulls *inside* the indices or values are refused, not copied;
- **index dtype other than int32/int64** (int8, uint32, ...): the indices are cast;
- **values not float64**: the values are cast to float64;
- **a sliced array / offsets not starting at 0**: only ``indptr`` is rebased (O(rows)); the
  children are still views;
- **offsets dtype differing from the indices'** (``list`` offsets are int32, ``large_list``
  int64): SciPy needs one index dtype, so ``indptr`` is cast (O(rows)), never the indices;
- **an edge table** ``(src, dst, weight)`` always needs a sort: node ids become positions 0..n-1
  with ``np.unique`` (a sort of the 2 x edges ids), then the edges are grouped by source, as
  CSR needs, with an O(edges + nodes) counting sort (parallel edges are summed);
- **several numeric columns** as one 2-D block: each column is copied into it (Arrow keeps
  columns in separate buffers).

Pass ``allow_copy=False`` to refuse any O(nnz) copy (``ValidationFailed``,
``code="arrow_copy_required"``) instead of making it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from rivergen.errors import ValidationFailed

log = logging.getLogger(__name__)

INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def csr_from_parts(
    data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """A CSR over these exact arrays (no copy, no check of their contents).

    SciPy's constructor narrows int64 indices that fit in int32 (a copy); this keeps them."""
    matrix = sp.csr_matrix(shape, dtype=data.dtype)
    matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
    matrix.check_format(full_check=False)
    return matrix


def _view(array: pa.Array) -> np.ndarray:
    """The array's buffer as NumPy, never a copy (Arrow raises if it would need one)."""
    return np.asarray(array.to_numpy(zero_copy_only=True))


def _copied(what: str, reason: str, allow_copy: bool) -> None:
    if not allow_copy:
        raise ValidationFailed(
            f"{what} cannot be used without a copy: {reason}",
            code="arrow_copy_required",
            details={"buffer": what, "reason": reason},
        )
    log.debug("copying %s: %s", what, reason)


def _one_chunk(column: pa.Array | pa.ChunkedArray, what: str, allow_copy: bool) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 1:
            return column.chunk(0)
        if column.num_chunks == 0:
            return pa.array([], type=column.type)
        _copied(what, f"{column.num_chunks} chunks", allow_copy)
        return column.combine_chunks()
    return column


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise ValidationFailed(
            f"no column {name!r} (columns: {', '.join(table.column_names)})",
            code="sparse_column_missing",
            details={"column": name},
        )
    return table.column(name)


def _index_array(child: pa.Array, what: str, allow_copy: bool) -> np.ndarray:
    if not pa.types.is_integer(child.type):
        raise ValidationFailed(
            f"{what} must be integers, not {child.type}",
            code="sparse_indices_not_integer",
            details={"column": what, "type": str(child.type)},
        )
    if child.null_count:
        raise ValidationFailed(
            f"{what} holds {child.null_count} nulls",
            code="sparse_null_index",
            details={"column": what, "nulls": child.null_count},
        )
    if child.type in (pa.int32(), pa.int64()):
        return _view(child)
    _copied(what, f"index type {child.type} is neither int32 nor int64", allow_copy)
    target = pa.int32() if len(child) == 0 or pc.max(child).as_py() < 2**31 else pa.int64()
    return _view(child.cast(target))


def _float_array(child: pa.Array, what: str, allow_copy: bool) -> np.ndarray:
    if not (pa.types.is_floating(child.type) or pa.types.is_integer(child.type)):
        raise ValidationFailed(
            f"{what} must be numeric, not {child.type}",
            code="sparse_values_not_numeric",
            details={"column": what, "type": str(child.type)},
        )
    if child.null_count:
        raise ValidationFailed(
            f"{what} holds {child.null_count} nulls",
            code="sparse_null_value",
            details={"column": what, "nulls": child.null_count},
        )
    if child.type == pa.float64():
        return _view(child)
    _copied(what, f"values of type {child.type} are cast to float64", allow_copy)
    return _view(child.cast(pa.float64()))


def _list_array(column: pa.ChunkedArray, what: str, allow_copy: bool) -> pa.Array:
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        raise ValidationFailed(
            f"{what} must be a list column, not {column.type}",
            code="sparse_not_a_list_column",
            details={"column": what, "type": str(column.type)},
        )
    return _one_chunk(column, what, allow_copy)


def _window(array: pa.Array) -> pa.Array:
    """The child values a list array's rows span, null slots included: a slice, a view."""
    offsets = array.offsets
    start = offsets[0].as_py() if len(offsets) else 0
    return array.values.slice(start, (offsets[-1].as_py() if len(offsets) else 0) - start)


def _empty_null_rows(
    index_list: pa.Array, value_list: pa.Array, allow_copy: bool
) -> tuple[pa.Array, pa.Array]:
    """A row null in either column becomes an empty row: free when every null slot spans no
    values already (the usual Arrow layout), else both columns are rebuilt without them."""
    if not (index_list.null_count or value_list.null_count):
        return index_list, value_list
    valid = np.logical_and(
        index_list.is_valid().to_numpy(zero_copy_only=False),
        value_list.is_valid().to_numpy(zero_copy_only=False),
    )
    spans = [np.diff(a.offsets.to_numpy()) for a in (index_list, value_list)]
    if not any(np.any(s[~valid]) for s in spans):
        return index_list, value_list
    _copied("indices and values", "null rows span values", allow_copy)
    rebuilt = []
    for array, lengths in zip((index_list, value_list), spans, strict=True):
        keep = np.repeat(valid, lengths)
        child = _window(array).filter(pa.array(keep))
        offsets = np.concatenate([[0], np.cumsum(np.where(valid, lengths, 0))])
        rebuilt.append(pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), child))
    return rebuilt[0], rebuilt[1]


def csr_from_lists(
    table: pa.Table,
    indices: str = "indices",
    values: str = "values",
    *,
    n_cols: int | None = None,
    allow_copy: bool = True,
) -> sp.csr_matrix:
    """Rows of ``table`` as a CSR: row ``i`` holds ``values[i][j]`` at column ``indices[i][j]``.

    ``n_cols`` defaults to the largest index + 1. A conforming table (one chunk, no nulls,
    ``list<int32|int64>`` and ``list<float64>``) maps without a copy; see the module docstring
    for the others. The result's arrays are read-only: copy the matrix before writing to it.
    """
    index_list, value_list = _empty_null_rows(
        _list_array(_column(table, indices), indices, allow_copy),
        _list_array(_column(table, values), values, allow_copy),
        allow_copy,
    )
    offsets = index_list.offsets.to_numpy(zero_copy_only=True)
    value_offsets = value_list.offsets.to_numpy(zero_copy_only=True)
    same_rows = (
        np.array_equal(offsets, value_offsets)
        if offsets[0] == value_offsets[0]
        else np.array_equal(np.diff(offsets), np.diff(value_offsets))
    )
    if not same_rows:
        raise ValidationFailed(
            f"{indices} and {values} differ in length on some row",
            code="sparse_lists_misaligned",
            details={"indices": indices, "values": values},
        )
    cols = _index_array(_window(index_list), indices, allow_copy)
    data = _float_array(_window(value_list), values, allow_copy)
    indptr = offsets if offsets[0] == 0 else offsets - offsets[0]  # O(rows) when sliced
    if cols.size and cols.min() < 0:
        raise ValidationFailed(
            f"{indices} holds negative indices", code="sparse_index_out_of_range"
        )
    width = int(cols.max()) + 1 if cols.size else 0
    if n_cols is None:
        n_cols = width
    elif width > n_cols:
        raise ValidationFailed(
            f"{indices} holds index {width - 1}, beyond n_cols={n_cols}",
            code="sparse_index_out_of_range",
            details={"n_cols": n_cols, "max_index": width - 1},
        )
    if indptr.dtype != cols.dtype:
        indptr = indptr.astype(cols.dtype)  # O(rows): SciPy wants one index dtype
    return csr_from_parts(data, cols, indptr, (len(index_list), n_cols))


@dataclass(frozen=True)
class Graph:
    """A directed graph as a CSR adjacency: ``matrix[i, j]`` is the weight of edge i -> j,
    where ``i`` and ``j`` are positions in ``nodes`` (the node ids, sorted)."""

    matrix: sp.csr_matrix
    nodes: np.ndarray

    @property
    def n_nodes(self) -> int:
        return int(self.matrix.shape[0])


def _node_ids(column: pa.ChunkedArray, what: str) -> np.ndarray:
    if column.null_count:
        raise ValidationFailed(
            f"{what} holds {column.null_count} nulls",
            code="graph_null_node",
            details={"column": what, "nulls": column.null_count},
        )
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not (
        pa.types.is_integer(column.type)
        or pa.types.is_string(column.type)
        or pa.types.is_large_string(column.type)
    ):
        raise ValidationFailed(
            f"{what} must hold integer or string node ids, not {column.type}",
            code="graph_node_type",
            details={"column": what, "type": str(column.type)},
        )
    return np.asarray(column.to_numpy())


def graph_from_edges(
    table: pa.Table, src: str = "src", dst: str = "dst", weight: str | None = "weight"
) -> Graph:
    """An edge table as a graph: one row per edge ``src -> dst`` with an optional numeric
    ``weight`` (1 for every edge when ``weight`` is None or the column is absent).

    Node ids (integers or strings) become positions in the sorted ``Graph.nodes``; only nodes
    that appear on an edge exist. Building the CSR sorts the edges by source (a copy CSR
    cannot avoid); parallel edges are summed."""
    sources = _node_ids(_column(table, src), src)
    targets = _node_ids(_column(table, dst), dst)
    nodes, positions = np.unique(np.concatenate([sources, targets]), return_inverse=True)
    rows, cols = positions[: len(sources)], positions[len(sources) :]
    if weight is not None and weight in table.column_names:
        weights = table.column(weight)
        if not (pa.types.is_integer(weights.type) or pa.types.is_floating(weights.type)):
            raise ValidationFailed(
                f"{weight} must be numeric, not {weights.type}",
                code="graph_weight_not_numeric",
                details={"column": weight, "type": str(weights.type)},
            )
        if weights.null_count:
            raise ValidationFailed(
                f"{weight} holds {weights.null_count} nulls",
                code="graph_null_weight",
                details={"column": weight, "nulls": weights.null_count},
            )
        values = weights.to_numpy().astype(np.float64, copy=False)
    else:
        values = np.ones(len(rows), dtype=np.float64)
    n = len(nodes)
    matrix = sp.coo_matrix((values, (rows, cols)), shape=(n, n)).tocsr()  # counting sort
    matrix.sum_duplicates()
    return Graph(matrix, nodes)


def read_edge_list(path: str | Path) -> pa.Table:
    """A whitespace-separated edge list (SNAP's format: ``src dst [weight]`` per line, ``#``
    comment lines) as a table ``(src, dst[, weight])`` of int64 (and float64) columns."""
    with open(path, encoding="utf-8") as lines:
        first = next((line.split() for line in lines if line.strip() and line[0] != "#"), [])
    if len(first) not in (0, 2, 3):
        raise ValidationFailed(
            f"an edge list has 2 or 3 columns per line, not {len(first)}",
            code="graph_edge_list_format",
        )
    ids = np.loadtxt(path, comments="#", dtype=np.int64, usecols=(0, 1), ndmin=2)
    table = {"src": pa.array(ids[:, 0].copy()), "dst": pa.array(ids[:, 1].copy())}
    if len(first) == 3:
        table["weight"] = pa.array(np.loadtxt(path, comments="#", usecols=2, ndmin=1))
    return pa.table(table)


@dataclass(frozen=True)
class OneHot:
    """A categorical column as a one-hot CSR block: row ``i`` has a 1 in the column of its
    category; ``categories[j]`` names column ``j``. A null is an empty row."""

    matrix: sp.csr_matrix
    categories: list[Any]


def one_hot(column: pa.Array | pa.ChunkedArray, *, allow_copy: bool = True) -> OneHot:
    """A dictionary-encoded column as one-hot: the CSR's indices are the dictionary codes
    (a view when they are int32/int64, one chunk, no nulls). A plain column is encoded
    first (a copy)."""
    array = _one_chunk(column, "categorical", allow_copy)
    if not pa.types.is_dictionary(array.type):
        _copied("categorical", f"{array.type} is not dictionary-encoded", allow_copy)
        array = pc.dictionary_encode(array)
    assert isinstance(array, pa.DictionaryArray)
    codes = array.indices
    n = len(array)
    if codes.null_count:
        _copied("categorical", f"{codes.null_count} nulls", allow_copy)
        valid = codes.is_valid().to_numpy(zero_copy_only=False)
        codes = codes.drop_null()
        indptr = np.concatenate([[0], np.cumsum(valid)])
    else:
        indptr = np.arange(n + 1)
    indices = _index_array(codes, "categorical", allow_copy)
    width = len(array.dictionary)
    data = np.ones(len(indices), dtype=np.float64)
    matrix = csr_from_parts(data, indices, indptr.astype(indices.dtype), (n, width))
    return OneHot(matrix, array.dictionary.to_pylist())


def dense_column(
    column: pa.Array | pa.ChunkedArray, *, null_fill: float = np.nan, allow_copy: bool = True
) -> np.ndarray:
    """A numeric column as a 1-D array: a read-only view when it is one chunk of a
    fixed-width numeric type without nulls; nulls are filled with ``null_fill`` (a copy)."""
    array = _one_chunk(column, "dense", allow_copy)
    if not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
        raise ValidationFailed(
            f"a dense column must be numeric, not {array.type}",
            code="sparse_values_not_numeric",
            details={"type": str(array.type)},
        )
    if array.null_count:
        _copied("dense", f"{array.null_count} nulls filled with {null_fill}", allow_copy)
        return _view(array.cast(pa.float64()).fill_null(null_fill))
    return _view(array)


def dense_block(table: pa.Table, columns: list[str], *, null_fill: float = np.nan) -> np.ndarray:
    """Numeric columns as one ``(rows, len(columns))`` float64 block, column-major: one copy
    of each column (Arrow keeps columns in separate buffers); a single column is a view."""
    if len(columns) == 1:
        view = dense_column(_column(table, columns[0]), null_fill=null_fill)
        if view.dtype == np.float64:
            return view.reshape(-1, 1)
    block = np.empty((table.num_rows, len(columns)), dtype=np.float64, order="F")
    for j, name in enumerate(columns):
        block[:, j] = dense_column(_column(table, name), null_fill=null_fill)
    return block
