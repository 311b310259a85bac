"""Row blocks: a CSR matrix cut by rows, each block put into the Ray object store once.

A kernel's iterations ship only the dense vector to the tasks; the blocks stay where they are
and each task maps its block without a copy (NumPy arrays in the object store are read-only:
copy before writing in place).

Block sizing: a Ray task costs about a millisecond to schedule and return, so a block must hold
enough nonzeros for its work to dwarf that (``min_nnz_per_block``), and there is no gain in more
blocks than the cluster can run at once times a small factor for balance.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray
import scipy.sparse as sp

MIN_NNZ_PER_BLOCK = 1_000_000
BLOCKS_PER_CPU = 2


def plan_row_blocks(
    indptr: np.ndarray,
    *,
    cpus: float,
    min_nnz_per_block: int = MIN_NNZ_PER_BLOCK,
    blocks_per_cpu: int = BLOCKS_PER_CPU,
) -> np.ndarray:
    """Row offsets (``len = blocks + 1``) that cut a CSR matrix into blocks of about equal
    nonzeros: as many as ``cpus * blocks_per_cpu``, but none under ``min_nnz_per_block``
    (so a small matrix is one block)."""
    n_rows = len(indptr) - 1
    nnz = int(indptr[-1]) if n_rows else 0
    wanted = max(1, math.ceil(cpus * blocks_per_cpu))
    count = max(1, min(wanted, nnz // max(1, min_nnz_per_block), n_rows))
    if count == 1:
        return np.array([0, n_rows], dtype=np.int64)
    targets = np.linspace(0, nnz, count + 1)[1:-1]
    cuts = np.searchsorted(indptr, targets, side="left")
    return np.unique(np.concatenate([[0], cuts, [n_rows]])).astype(np.int64)


def _block(matrix: sp.csr_matrix, start: int, stop: int) -> sp.csr_matrix:
    lo, hi = int(matrix.indptr[start]), int(matrix.indptr[stop])
    return sp.csr_matrix(
        (matrix.data[lo:hi], matrix.indices[lo:hi], matrix.indptr[start : stop + 1] - lo),
        shape=(stop - start, matrix.shape[1]),
        copy=False,
    )


@dataclass(frozen=True)
class RowBlocks:
    """A CSR matrix as row blocks in the Ray object store."""

    refs: tuple[Any, ...]  # ray.ObjectRef[sp.csr_matrix], one per block
    offsets: np.ndarray  # row offsets, len(refs) + 1
    shape: tuple[int, int]
    nnz: int

    @classmethod
    def put(
        cls,
        matrix: sp.csr_matrix | sp.csr_array,
        *,
        cpus: float | None = None,
        min_nnz_per_block: int = MIN_NNZ_PER_BLOCK,
    ) -> RowBlocks:
        """Cut ``matrix`` and put each block once; ``cpus`` defaults to the cluster's."""
        csr = sp.csr_matrix(matrix)
        if cpus is None:
            cpus = float(ray.cluster_resources().get("CPU", 1.0))  # type: ignore[no-untyped-call]
        offsets = plan_row_blocks(csr.indptr, cpus=cpus, min_nnz_per_block=min_nnz_per_block)
        refs = tuple(ray.put(_block(csr, int(a), int(b))) for a, b in itertools.pairwise(offsets))
        return cls(refs, offsets, (int(csr.shape[0]), int(csr.shape[1])), int(csr.nnz))

    def __len__(self) -> int:
        return len(self.refs)

    def rows(self, i: int) -> slice:
        """The rows of the whole matrix that block ``i`` holds."""
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))
