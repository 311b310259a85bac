"""What a job kind is: its parameters, their check against the catalog, and its work.

A kind is a :class:`JobKind` subclass; the gateway validates with it before any task starts,
and the job supervisor runs it. To add a kind, subclass :class:`JobKind` (in ``compute/``,
since its work runs on Ray) and add it to the registry the runner is built with
(``compute.jobs.kinds.platform_kinds``)::

    class PageRankKind(JobKind[PageRankParams]):
        name = "pagerank"
        params_model = PageRankParams

        async def validate(self, params, catalog):
            edges = await catalog.dataset(params.dataset, params.version)
            ...  # raise ValidationFailed(..., code=...) for what cannot run
            return params.model_copy(update={"version": edges.version})  # pin the version

        def inputs(self, params):
            return [(params.dataset, params.version)]

        async def run(self, ctx):
            ref = ctx.load(ctx.params.dataset, ctx.params.version)  # ObjectRef[pa.Table]
            ...  # Ray tasks over it; ctx.track(ref) each, ctx.progress(pct, msg) now and then,
            ...  # stop early if ctx.cancelled()
            return table  # a pyarrow.Table (or an ObjectRef to one): the result dataset
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar
from uuid import UUID

from pydantic import BaseModel

from rivergen.engine.lineage import QueryLineage
from rivergen.jobs.schemas import DatasetInput
from rivergen.services.governance.schemas import Governed
from rivergen.settings import Settings

P = TypeVar("P", bound=BaseModel)
R = TypeVar("R")


class Catalog(Protocol):
    """The dataset registry as a kind's validation sees it (the job's workspace only)."""

    async def dataset(self, dataset: UUID, version: int | None) -> DatasetInput:
        """A version (default: the current) with its columns; :class:`ValidationFailed` (422)
        ``dataset_not_found`` or ``dataset_version_not_found`` if there is none."""

    async def named(self, names: list[str]) -> dict[str, DatasetInput]:
        """The current versions of the datasets called ``names`` (each exactly, else ignoring
        case when only one dataset matches); a name without a dataset is left out."""


class JobContext(Protocol[P]):
    """What a running kind may use. ``params`` are the validated (version-pinned) ones."""

    job_id: UUID
    workspace_id: UUID
    attempt: int
    params: P
    min_nnz_per_block: int  # the sizing of Sparse Native row blocks (settings)
    settings: Settings  # for a task that reads its inputs itself (see :meth:`source`)

    @property
    def result_key(self) -> str:
        """Where the job's result object goes. A kind whose task writes its result there
        itself returns the task's ``StagedVersion`` instead of rows (they never reach the
        supervisor)."""

    def load(self, dataset: UUID, version: int, columns: list[str] | None = None) -> Any:
        """An ``ObjectRef[pyarrow.Table]`` of one of the kind's :meth:`JobKind.inputs`."""

    def source(self, dataset: UUID, version: int) -> tuple[str, Governed | None]:
        """Where an input's object is and what the submitter's policies make of it, for a
        task that reads it itself (``compute.staging.read_dataset``)."""

    def size(self, dataset: UUID, version: int) -> int:
        """The stored (Parquet) bytes of one of the kind's inputs, as the catalog records them."""

    def progress(self, percent: float, message: str = "") -> None:
        """Report progress (0-100); written and published at most once a progress interval."""

    def cancelled(self) -> bool:
        """True once the job's cancellation was asked: stop between steps."""

    def track(self, ref: R) -> R:
        """Register a task's ``ObjectRef`` so a cancel reaches it (``ray.cancel``)."""


@dataclass(frozen=True)
class KindOutput:
    """A kind's result rows (a ``pyarrow.Table`` or an ``ObjectRef`` to one) with a summary
    shown beside the job's result (JSON-safe)."""

    table: Any
    summary: dict[str, Any]
    # When ``table`` is a :class:`StagedVersion` whose object is still being written: what
    # completes once it is stored (the result is committed only then).
    stored: Any = None


class JobKind(ABC, Generic[P]):
    """One kind of job. ``public = False`` keeps a kind out of the API unless
    ``RIVERGEN_JOBS__TEST_KINDS`` is on."""

    name: ClassVar[str]
    params_model: type[P]
    public: ClassVar[bool] = True

    def parse(self, params: dict[str, Any]) -> P:
        """The kind's params model from JSON (raises ``pydantic.ValidationError``)."""
        return self.params_model.model_validate(params)

    @abstractmethod
    async def validate(self, params: P, catalog: Catalog) -> P:
        """Check ``params`` against the catalog (raise :class:`ValidationFailed` with a code);
        return them with every dataset version pinned, so a retry reads the same data."""

    async def lineage(self, params: P, catalog: Catalog) -> QueryLineage | None:
        """The result's column lineage over the inputs (relations named by dataset id), for
        governance through renames and expressions; None: unknown (governed by name)."""
        return None

    def inputs(self, params: P) -> list[tuple[UUID, int]]:
        """The dataset versions the job reads (pinned by :meth:`validate`): what
        :meth:`JobContext.load` may load, and the lineage of the result."""
        return []

    @abstractmethod
    async def run(self, ctx: JobContext[P]) -> Any:
        """Do the work as Ray tasks; return the result as a ``pyarrow.Table`` or an
        ``ObjectRef`` to one. Raise a :class:`RiverGenError` for a failure a retry cannot
        mend (the job fails at once); anything else is retried up to ``max_attempts``."""
