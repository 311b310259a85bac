"""Sparse Native: Arrow data as SciPy CSR, split by rows into the Ray object store once, and
kernels as Ray tasks over those blocks."""

from compute.sparse.blocks import RowBlocks, plan_row_blocks

__all__ = ["RowBlocks", "plan_row_blocks"]
