"""Text as sparse vectors: TF-IDF of a string column, and cosine top-k similarity, as Ray tasks.

TF-IDF is :mod:`rivergen.sparse.text`'s (scikit-learn's ``TfidfVectorizer()`` with its
defaults, to the last bit), fitted here over ranges of documents. The column is
put into the object store once; each task tokenizes a range of documents and returns their
counts over its own local vocabulary; the driver merges the vocabularies and renumbers the
columns (one pass over the text). A null is an empty document.

Cosine top-k: each task takes one row block of the matrix and the (normalized) queries, scores
``queries @ block.T`` and keeps each query's k best rows of its block; the driver merges the
blocks' candidates. Ties are broken by the lower row index, so the answer is deterministic
and equals brute force's stable order.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray
import scipy.sparse as sp

from compute.sparse.blocks import MIN_NNZ_PER_BLOCK, RowBlocks
from compute.sparse.control import Cancelled, IsCancelled, Progress
from compute.tasks import got
from rivergen.errors import ValidationFailed
from rivergen.metrics import timed_kernel
from rivergen.sparse.text import Tfidf, as_text, count_terms, merge_counts, normalize_rows

__all__ = ["Tfidf", "TopK", "cosine_top_k", "tfidf"]

TASK_NUM_CPUS = 0.5
# Tokenizing runs at roughly 10-20 MB/s of text in Python: 1 MB is 50-100 ms of work per task.
MIN_CHARS_PER_TASK = 1_000_000
BLOCKS_PER_CPU = 2
QUERY_BATCH = 2048


@dataclass(frozen=True)
class TopK:
    """Each query's best rows, best first: ``indices[q, j]`` is a row of the matrix and
    ``scores[q, j]`` its cosine similarity with query ``q``."""

    indices: np.ndarray  # (queries, k) int64
    scores: np.ndarray  # (queries, k) float64


def tfidf(
    texts: Any,
    *,
    min_chars_per_task: int = MIN_CHARS_PER_TASK,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> Tfidf:
    """TF-IDF of ``texts`` (an Arrow string array or chunked array, or a sequence of
    ``str | None``) as Ray tasks over ranges of documents.

    ``ValidationFailed`` ``not_text`` (not strings) or ``empty_vocabulary`` (no token at all,
    as scikit-learn refuses); ``Cancelled`` when ``cancelled()`` turns true between tasks.
    """
    column = as_text(texts)
    with timed_kernel("tfidf") as call:
        ref = ray.put(column)
        ranges = _plan_text(column, min_chars_per_task)
        pending = {
            _count_documents.remote(ref, start, stop): i
            for i, (start, stop) in enumerate(itertools.pairwise(ranges))
        }
        parts = _gather(pending, progress, cancelled, "documents tokenized")
        fitted = merge_counts(parts)
        call.nnz = int(fitted.matrix.nnz)
        return fitted


@ray.remote(num_cpus=TASK_NUM_CPUS)
def _count_documents(column: pa.Array, start: int, stop: int) -> tuple[sp.csr_matrix, list[str]]:
    """Counts of documents ``start:stop`` over their own vocabulary (in first-seen order)."""
    return count_terms(column.slice(start, stop - start).to_pylist())


def _plan_text(column: pa.Array, min_chars_per_task: int) -> list[int]:
    """Document offsets cutting ``column`` into ranges of about equal characters."""
    n = len(column)
    lengths = pc.binary_length(column).fill_null(0).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    chars = int(offsets[-1])
    cpus = float(ray.cluster_resources().get("CPU", 1.0))  # type: ignore[no-untyped-call]
    count = max(1, min(math.ceil(cpus * BLOCKS_PER_CPU), chars // max(1, min_chars_per_task), n))
    targets = np.linspace(0, chars, count + 1)[1:-1]
    cuts = np.searchsorted(offsets, targets, side="left")
    return [int(v) for v in np.unique(np.concatenate([[0], cuts, [n]]))]


def _gather(
    pending: dict[Any, int], progress: Progress | None, cancelled: IsCancelled | None, what: str
) -> list[Any]:
    """The tasks' results in their order, reporting as each finishes; cancels the rest and
    raises ``compute.sparse.Cancelled`` when asked to stop."""
    results: list[Any] = [None] * len(pending)
    waiting = list(pending)
    while waiting:
        if cancelled is not None and cancelled():
            for ref in waiting:
                ray.cancel(ref)
            raise Cancelled("the job was cancelled")
        done, waiting = ray.wait(waiting, num_returns=1, timeout=1.0)
        for ref in done:
            results[pending[ref]] = got(ref)
        if done and progress is not None:
            finished = len(pending) - len(waiting)
            progress(finished / len(pending), f"{finished}/{len(pending)} {what}")
    return results


def cosine_top_k(
    matrix: sp.spmatrix | sp.sparray | RowBlocks,
    k: int,
    *,
    queries: sp.spmatrix | sp.sparray | None = None,
    query_rows: Any = None,
    exclude_self: bool = False,
    min_nnz_per_block: int = MIN_NNZ_PER_BLOCK,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> TopK:
    """Each query's ``k`` rows of ``matrix`` of highest cosine similarity, as Ray tasks over
    row blocks (a CSR matrix is put as blocks here; ``RowBlocks`` are used as they are).

    The queries are ``queries`` (other vectors, same columns), or the rows ``query_rows`` of
    the matrix, or (neither given) every row: all pairs. ``exclude_self`` drops a query's own
    row (only for rows of the matrix). ``k`` is capped by the rows available. An empty row
    has similarity 0 with everything. Order: score descending, then row index ascending.

    ``ValidationFailed`` codes ``invalid_k``, ``not_sparse``, ``shape_mismatch``,
    ``row_out_of_range``, ``ambiguous_queries``, ``exclude_self_needs_rows``.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValidationFailed(f"k must be a positive integer, not {k!r}", code="invalid_k")
    blocks = _blocks(matrix, min_nnz_per_block)
    found, self_rows = _queries(matrix, blocks, queries, query_rows, exclude_self)
    available = blocks.shape[0] - (1 if exclude_self else 0)
    k = min(int(k), available)
    if k < 1 or found.shape[0] == 0:
        empty = np.zeros((found.shape[0], max(k, 0)))
        return TopK(indices=empty.astype(np.int64), scores=empty)
    with timed_kernel("cosine_top_k", blocks.nnz):
        query_ref, self_ref = ray.put(normalize_rows(found)), ray.put(self_rows)
        pending = {
            _block_top_k.remote(ref, int(blocks.offsets[i]), query_ref, self_ref, k): i
            for i, ref in enumerate(blocks.refs)
        }
        parts = _gather(pending, progress, cancelled, "row blocks scored")
        indices = np.concatenate([part[0] for part in parts], axis=1)
        scores = np.concatenate([part[1] for part in parts], axis=1)
        order = np.lexsort((indices, -scores), axis=-1)[:, :k]
        return TopK(
            indices=np.take_along_axis(indices, order, axis=1),
            scores=np.take_along_axis(scores, order, axis=1),
        )


def _blocks(matrix: sp.spmatrix | sp.sparray | RowBlocks, min_nnz_per_block: int) -> RowBlocks:
    """The matrix as blocks in the object store: the top-k search runs as tasks."""
    if isinstance(matrix, RowBlocks):
        if not matrix.local:
            return matrix
        matrix = sp.vstack(matrix.local, format="csr")
    if not sp.issparse(matrix):
        raise ValidationFailed(
            f"the matrix must be a SciPy sparse matrix, not {type(matrix).__name__}",
            code="not_sparse",
        )
    return RowBlocks.put(
        sp.csr_matrix(matrix, dtype=np.float64), min_nnz_per_block=min_nnz_per_block, plan="tasks"
    )


def _queries(
    matrix: sp.spmatrix | sp.sparray | RowBlocks,
    blocks: RowBlocks,
    queries: sp.spmatrix | sp.sparray | None,
    query_rows: Any,
    exclude_self: bool,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """The query matrix and, per query, its own row of the matrix (-1 for none)."""
    if queries is not None:
        if query_rows is not None:
            raise ValidationFailed("give queries or query_rows, not both", code="ambiguous_queries")
        if exclude_self:
            raise ValidationFailed(
                "exclude_self needs queries that are rows of the matrix",
                code="exclude_self_needs_rows",
            )
        if not sp.issparse(queries):
            raise ValidationFailed("queries must be a SciPy sparse matrix", code="not_sparse")
        found = sp.csr_matrix(queries, dtype=np.float64)
        if found.shape[1] != blocks.shape[1]:
            raise ValidationFailed(
                f"queries have {found.shape[1]} columns, the matrix {blocks.shape[1]}",
                code="shape_mismatch",
            )
        return found, np.full(found.shape[0], -1, dtype=np.int64)
    whole = (
        sp.csr_matrix(sp.vstack(got(list(blocks.refs)), format="csr"))
        if isinstance(matrix, RowBlocks)
        else sp.csr_matrix(matrix, dtype=np.float64)
    )
    rows = (
        np.arange(blocks.shape[0], dtype=np.int64)
        if query_rows is None
        else np.asarray(query_rows, dtype=np.int64).reshape(-1)
    )
    if len(rows) and (rows.min() < 0 or rows.max() >= blocks.shape[0]):
        raise ValidationFailed("a query row is outside the matrix", code="row_out_of_range")
    self_rows = rows if exclude_self else np.full(len(rows), -1, dtype=np.int64)
    return sp.csr_matrix(whole[rows]), self_rows


@ray.remote(num_cpus=TASK_NUM_CPUS)
def _block_top_k(
    block: sp.csr_matrix, start: int, queries: sp.csr_matrix, self_rows: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each query's best ``min(k, rows)`` rows of this block (global row numbers; -1 and
    -inf where fewer rows remain after excluding self)."""
    rows = block.shape[0]
    inverse = normalize_rows(sp.csr_matrix(block, dtype=np.float64))
    local_self = np.where((self_rows >= start) & (self_rows < start + rows), self_rows - start, -1)
    kk = min(k, rows)
    indices = np.full((queries.shape[0], kk), -1, dtype=np.int64)
    scores = np.full((queries.shape[0], kk), -np.inf)
    for lo in range(0, queries.shape[0], QUERY_BATCH):
        hi = min(lo + QUERY_BATCH, queries.shape[0])
        product = sp.csr_matrix(queries[lo:hi] @ inverse.T)
        product.sum_duplicates()
        top_rows, top_cols, top_scores, rank = _top_k_rows(product, kk, local_self[lo:hi])
        indices[top_rows + lo, rank] = top_cols + start
        scores[top_rows + lo, rank] = top_scores
    return indices, scores


def _top_k_rows(
    product: sp.csr_matrix, k: int, excluded: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row's ``k`` best columns of a sparse score matrix whose missing entries are 0,
    best first, ties to the lower column; as (row, column, score, rank) arrays."""
    n_rows, n_cols = product.shape
    lengths = np.diff(product.indptr)
    rows = np.repeat(np.arange(n_rows), lengths)
    cols, values = product.indices.astype(np.int64), product.data
    keep = cols != excluded[rows]
    # Zero-score candidates: the lowest columns a row does not store. Its first
    # k + stored + 1 columns hold at least k of them (or all the row has).
    span = np.minimum(k + lengths + 1, n_cols)
    zero_rows = np.repeat(np.arange(n_rows), span)
    zero_cols = np.arange(zero_rows.size) - np.repeat(np.cumsum(span) - span, span)
    stored = np.sort(rows * n_cols + cols)
    keys = zero_rows * n_cols + zero_cols
    at = np.minimum(np.searchsorted(stored, keys), max(stored.size - 1, 0))
    is_stored = stored[at] == keys if stored.size else np.zeros(keys.size, dtype=bool)
    free = ~is_stored & (zero_cols != excluded[zero_rows])
    all_rows = np.concatenate([rows[keep], zero_rows[free]])
    all_cols = np.concatenate([cols[keep], zero_cols[free]])
    all_scores = np.concatenate([values[keep], np.zeros(int(free.sum()))])
    order = np.lexsort((all_cols, -all_scores, all_rows))
    all_rows, all_cols, all_scores = all_rows[order], all_cols[order], all_scores[order]
    rank = np.arange(all_rows.size) - np.searchsorted(all_rows, all_rows, side="left")
    best = rank < k
    return all_rows[best], all_cols[best], all_scores[best], rank[best]
