"""Sparse products over row blocks: SpMV (and its transpose), SpMM, SpGEMM.

Where they run is the blocks' plan (:class:`RowBlocks`). In process: plain SciPy on each block,
one thread per block, the operand shared. As tasks: the blocks are already in the object store;
a product puts its dense operand once and every block's task reads it by reference (a zero-copy
view in the worker when it is large enough for shared memory); each task is plain SciPy on its
block and reports the node it ran on.

CPUs. Each task asks for ``TASK_NUM_CPUS`` = 0.5: products are memory-bound SciPy loops that
release the GIL, and on a 2-CPU machine whose Serve replicas hold fractions of a CPU, whole-CPU
tasks would run one at a time. There is one block per CPU (see ``blocks``): every block of a
product runs at once, in a worker process Ray keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import ray
import scipy.sparse as sp

from compute.sparse.blocks import RowBlocks, threads
from compute.sparse.control import IsCancelled, Progress, Watch
from compute.tasks import got
from rivergen.errors import ValidationFailed
from rivergen.metrics import timed_kernel

TASK_NUM_CPUS = 0.5
# Ray inlines a task argument under 100 KiB into the task itself; a put costs ~1 ms more than
# that here, so a small operand travels inline and only a large one is put (once per round).
INLINE_BYTES = 100 * 1024

_node_id: str | None = None


def node_id() -> str:
    """The id of the node this process runs on (cached: a worker never moves)."""
    global _node_id
    if _node_id is None:
        _node_id = str(ray.get_runtime_context().get_node_id())
    return _node_id


def here() -> str:
    """The node this process runs on, or ``local`` outside a Ray cluster."""
    return node_id() if ray.is_initialized() else "local"


def times(block: sp.csr_matrix, operand: Any) -> Any:
    """``block @ operand`` (a vector, a dense matrix or a CSR)."""
    return block @ operand


def transpose_times(block: sp.csr_matrix, operand: np.ndarray, start: int) -> Any:
    """``block.T @ operand[rows of the block]``: this block's share of ``A.T @ operand``."""
    return block.T @ operand[start : start + block.shape[0]]


def gram_times(block: sp.csr_matrix, operand: np.ndarray) -> Any:
    """``block.T @ (block @ operand)``: this block's share of ``A.T @ A @ operand``."""
    return block.T @ (block @ operand)


@ray.remote(num_cpus=TASK_NUM_CPUS)
def _times(block: sp.csr_matrix, operand: Any) -> tuple[Any, str]:
    return times(block, operand), node_id()


@ray.remote(num_cpus=TASK_NUM_CPUS)
def _transpose_times(block: sp.csr_matrix, operand: np.ndarray, start: int) -> tuple[Any, str]:
    return transpose_times(block, operand, start), node_id()


@ray.remote(num_cpus=TASK_NUM_CPUS)
def _gram_times(block: sp.csr_matrix, operand: np.ndarray) -> tuple[Any, str]:
    return gram_times(block, operand), node_id()


class Rounds:
    """Submits one task per block with the operand put once, and gathers the results;
    remembers every node a task ran on."""

    def __init__(self, blocks: RowBlocks) -> None:
        self.blocks = blocks
        self._ran_on: set[str] = set()
        self.count = 0

    @property
    def nodes(self) -> set[str]:
        """The nodes the rounds ran on (this process's, for blocks held here)."""
        return {here()} if self.blocks.local else self._ran_on

    def _gather(self, refs: Iterable[Any]) -> list[Any]:
        results = got(list(refs))
        self.count += 1
        self._ran_on.update(node for _, node in results)
        return [value for value, _ in results]

    def _here(self, work: Callable[[int, sp.csr_matrix], Any]) -> list[Any]:
        """``work(i, block)`` for each block of this process, a thread each."""
        blocks = self.blocks.local
        self.count += 1
        if len(blocks) == 1:
            return [work(0, blocks[0])]
        return list(threads().map(work, range(len(blocks)), blocks))

    def stacked(self, operand: Any) -> Any:
        """``A @ operand``, rows stacked in block order (dense, or CSR for a sparse operand)."""
        if self.blocks.local:
            parts = self._here(lambda _, block: times(block, operand))
        else:
            ref = _share(operand)
            parts = self._gather(
                _times.options(**self.blocks.task_options(i)).remote(block, ref)
                for i, block in enumerate(self.blocks.refs)
            )
        if len(parts) == 1:
            return parts[0]  # no gather copy: a read-only view of the object store
        if sp.issparse(operand):
            return sp.vstack(parts, format="csr")
        return np.concatenate(parts, axis=0)

    def summed(self, operand: np.ndarray) -> np.ndarray:
        """``A.T @ operand``: each block's share, summed."""
        if self.blocks.local:
            starts = [self.blocks.rows(i).start for i in range(len(self.blocks))]
            parts = self._here(lambda i, block: transpose_times(block, operand, starts[i]))
            return _sum(parts, (self.blocks.shape[1], *operand.shape[1:]))
        ref = _share(operand)
        parts = self._gather(
            _transpose_times.options(**self.blocks.task_options(i)).remote(
                block, ref, self.blocks.rows(i).start
            )
            for i, block in enumerate(self.blocks.refs)
        )
        return _sum(parts, (self.blocks.shape[1], *operand.shape[1:]))

    def gram(self, operand: np.ndarray) -> np.ndarray:
        """``A.T @ A @ operand`` in one round (each block does both products)."""
        if self.blocks.local:
            return _sum(self._here(lambda _, block: gram_times(block, operand)), operand.shape)
        ref = _share(operand)
        parts = self._gather(
            _gram_times.options(**self.blocks.task_options(i)).remote(block, ref)
            for i, block in enumerate(self.blocks.refs)
        )
        return _sum(parts, operand.shape)


def _share(operand: Any) -> Any:
    """The operand as the tasks of one round receive it: put once, or inline when small."""
    size = operand.data.nbytes + operand.indices.nbytes if sp.issparse(operand) else operand.nbytes
    return ray.put(operand) if size >= INLINE_BYTES else operand


def _sum(parts: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    total = np.zeros(shape, dtype=np.result_type(*parts) if parts else np.float64)
    for part in parts:
        total += part
    return total


def _check_operand(blocks: RowBlocks, operand: Any, rows: int, what: str) -> None:
    if operand.shape[0] != rows:
        raise ValidationFailed(
            f"{what} has {operand.shape[0]} rows; the product needs {rows}",
            code="sparse_shape_mismatch",
            details={"matrix": list(blocks.shape), "operand": list(operand.shape)},
        )


def spmv(
    blocks: RowBlocks,
    x: np.ndarray,
    *,
    transpose: bool = False,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> np.ndarray:
    """``A @ x`` (or ``A.T @ x`` with ``transpose``) for the matrix ``blocks`` holds.

    The result may be read-only (a view of the object store when there is one block): copy it
    before writing in place."""
    x = np.asarray(x)
    _check_operand(blocks, x, blocks.shape[0] if transpose else blocks.shape[1], "x")
    watch = Watch(progress, cancelled)
    watch.check()
    with timed_kernel("spmv", blocks.nnz):
        rounds = Rounds(blocks)
        y = rounds.summed(x) if transpose else rounds.stacked(x)
    watch.report(1.0, "spmv done")
    return np.asarray(y)


def spmm(
    blocks: RowBlocks,
    dense: np.ndarray,
    *,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> np.ndarray:
    """``A @ dense`` for a dense ``(n_cols, k)`` matrix (read-only like :func:`spmv`'s)."""
    dense = np.asarray(dense)
    _check_operand(blocks, dense, blocks.shape[1], "the dense operand")
    watch = Watch(progress, cancelled)
    watch.check()
    with timed_kernel("spmm", blocks.nnz):
        y = Rounds(blocks).stacked(dense)
    watch.report(1.0, "spmm done")
    return np.asarray(y)


def spgemm(
    blocks: RowBlocks,
    other: sp.spmatrix | sp.sparray,
    *,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> sp.csr_matrix:
    """``A @ other`` for a sparse ``other`` (put once, read by every block's task), as CSR."""
    right = sp.csr_matrix(other)
    _check_operand(blocks, right, blocks.shape[1], "the sparse operand")
    watch = Watch(progress, cancelled)
    watch.check()
    with timed_kernel("spgemm", blocks.nnz + int(right.nnz)):
        product = Rounds(blocks).stacked(right)
    watch.report(1.0, "spgemm done")
    return sp.csr_matrix(product)
