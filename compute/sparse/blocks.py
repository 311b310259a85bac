"""Row blocks: a CSR matrix cut by rows, and where the kernels' products over them run.

The plan, chosen from the matrix's size and the cluster (:func:`choose_plan`):

- **In process** (``in_process``): the blocks stay in the calling process and each product runs
  there, one thread per block (SciPy's sparse products release the GIL). A round of Ray tasks
  costs a few milliseconds and moves the vector and the products through the object store;
  threads over the same memory cost tens of microseconds. So on a one-node cluster every
  kernel runs in process (the node's CPUs are this process's threads), and on several nodes a
  matrix under two blocks' worth of nonzeros (``min_nnz_per_block``) does too. In process, a
  block holds at least ``MIN_NNZ_PER_THREAD`` nonzeros (a smaller product is one call).
- **Ray tasks** (``tasks``): each block put into the Ray object store once, spread over the
  nodes with CPUs in proportion to their CPUs (each created on its node by a task, so its node
  stores it); a kernel's iterations ship only the dense vector to the tasks, which map their
  blocks without a copy (NumPy arrays in the object store are read-only: copy before writing in
  place), and :meth:`RowBlocks.task_options` pins a block's tasks softly to its node.

Task block sizing. A Ray task costs about a millisecond to schedule and return, so a task must
do more than ~10 ms of work to be worth it. SciPy's SpMV runs at 1.5 ms per million nonzeros
here when the vector fits in cache (7 ms for 4 million, far more when it does not), so a block
holds at least ``MIN_NNZ_PER_BLOCK`` = 4 million nonzeros. Above it, as many blocks as the
cluster has CPUs (``cpus * BLOCKS_PER_CPU``, cut at equal nonzeros, not rows), and no more: Ray
keeps about one idle worker process per CPU and kills the others when idle, so a round of more
tasks than CPUs starts fresh worker processes again and again (measured here: 4 half-CPU tasks
on 2 CPUs took 0.3-0.5 s more per round than 2 after a pause of a second; SpMV of 3e7 nonzeros
0.97 s in four blocks against 0.38 s in two).
"""

from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import ray
import scipy.sparse as sp
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from compute.tasks import cpu_nodes as all_cpu_nodes
from rivergen.settings import Settings

MIN_NNZ_PER_BLOCK = 4_000_000
BLOCKS_PER_CPU = 1
# In process, a thread's block: a smaller product is one call (two threads over 1e6 nonzeros
# ran at 0.84-1.46 of one call here, over 3e6 at 0.7, 1e7 at 0.52, 3e7 at 0.58).
MIN_NNZ_PER_THREAD = 1_000_000

Plan = Literal["in_process", "tasks"]


def choose_plan(nnz: int, nodes: int, min_nnz_per_block: int = MIN_NNZ_PER_BLOCK) -> Plan:
    """Where a matrix's products run (see the module): in this process on a one-node cluster
    or for fewer than two blocks' worth of nonzeros, else as Ray tasks over the nodes."""
    if nodes <= 1 or nnz < 2 * max(1, min_nnz_per_block):
        return "in_process"
    return "tasks"


def kernel_plan(settings: Settings) -> Plan | None:
    """The plan a job's kernels run on (``RIVERGEN_JOBS__KERNEL_PLAN``; None: chosen)."""
    chosen = settings.jobs.kernel_plan
    return None if chosen == "auto" else chosen


def local_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


_pool: ThreadPoolExecutor | None = None


def threads() -> ThreadPoolExecutor:
    """The threads in-process products run on (one per CPU of this process)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=local_cpus(), thread_name_prefix="sparse")
    return _pool


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


@ray.remote(num_cpus=0)
def _hold(block: sp.csr_matrix) -> sp.csr_matrix:
    """Returns its argument: run on a node, it leaves the block in that node's object store."""
    return block


def _assign(count: int, nodes: list[tuple[str, float]]) -> list[str]:
    """Node of each block: in proportion to the nodes' CPUs, neighbours on the same node."""
    total = sum(cpus for _, cpus in nodes)
    bounds = np.cumsum([cpus / total for _, cpus in nodes])
    centres = (np.arange(count) + 0.5) / count
    return [nodes[min(int(np.searchsorted(bounds, c)), len(nodes) - 1)][0] for c in centres]


@dataclass(frozen=True)
class RowBlocks:
    """A CSR matrix as row blocks: in this process (``local``), or in the Ray object store
    (``refs``)."""

    refs: tuple[Any, ...]  # ray.ObjectRef[sp.csr_matrix], one per block (the tasks plan)
    offsets: np.ndarray  # row offsets, len(blocks) + 1
    shape: tuple[int, int]
    nnz: int
    nodes: tuple[str | None, ...] = ()  # node holding each block; empty on one node
    local: tuple[sp.csr_matrix, ...] = ()  # the blocks themselves (the in-process plan)

    @property
    def plan(self) -> Plan:
        return "in_process" if self.local else "tasks"

    @classmethod
    def put(
        cls,
        matrix: sp.csr_matrix | sp.csr_array,
        *,
        cpus: float | None = None,
        min_nnz_per_block: int = MIN_NNZ_PER_BLOCK,
        plan: Plan | None = None,
    ) -> RowBlocks:
        """Cut ``matrix`` for ``plan`` (:func:`choose_plan` by default): in process, one block
        per thread of this process (``cpus`` of them if given); as tasks, one per CPU of the
        cluster (``cpus`` if given), each put once."""
        csr = matrix if isinstance(matrix, sp.csr_matrix) else sp.csr_matrix(matrix)
        shape, nnz = (int(csr.shape[0]), int(csr.shape[1])), int(csr.nnz)
        cpu_nodes = all_cpu_nodes() if ray.is_initialized() else []
        if (plan or choose_plan(nnz, len(cpu_nodes), min_nnz_per_block)) == "in_process":
            offsets = plan_row_blocks(
                csr.indptr, cpus=cpus or local_cpus(), min_nnz_per_block=MIN_NNZ_PER_THREAD
            )
            local = tuple(_block(csr, int(a), int(b)) for a, b in itertools.pairwise(offsets))
            return cls((), offsets, shape, nnz, local=local)
        if cpus is None:
            cpus = float(ray.cluster_resources().get("CPU", 1.0))  # type: ignore[no-untyped-call]
        offsets = plan_row_blocks(csr.indptr, cpus=cpus, min_nnz_per_block=min_nnz_per_block)
        blocks = [_block(csr, int(a), int(b)) for a, b in itertools.pairwise(offsets)]
        if len(cpu_nodes) < 2 or len(blocks) < 2:
            return cls(tuple(ray.put(block) for block in blocks), offsets, shape, nnz)
        here = ray.get_runtime_context().get_node_id()
        placed = _assign(len(blocks), cpu_nodes)
        refs = [
            ray.put(block)
            if node == here
            else _hold.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)
            ).remote(block)
            for block, node in zip(blocks, placed, strict=True)
        ]
        ray.wait(refs, num_returns=len(refs), fetch_local=False)
        return cls(tuple(refs), offsets, shape, nnz, tuple(placed))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def rows(self, i: int) -> slice:
        """The rows of the whole matrix that block ``i`` holds."""
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))

    def task_options(self, i: int) -> dict[str, Any]:
        """Options for a task over block ``i``: run it where the block is if that node has the
        CPUs free now, else on another (a node whose CPUs long-lived actors hold would keep it
        waiting for ever: a soft preference alone only moves a task off a node that is gone or
        could never run it)."""
        if not self.nodes or self.nodes[i] is None:
            return {}
        strategy = NodeAffinitySchedulingStrategy(
            str(self.nodes[i]), soft=True, _spill_on_unavailable=True
        )
        return {"scheduling_strategy": strategy}
