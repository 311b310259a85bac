"""What the agent's SQL and policy tools need from the services built beside it: the SQL
compiler and engine (Planning, Execution Support) and Governance. Each is plugged in by
constructor injection (:meth:`rivergen.agents.prompt_studio.tools.ToolBox.standard`); a
tool whose port is not plugged in is not offered to the providers."""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

from pydantic import BaseModel, Field

from rivergen.accounts.principal import RequestContext
from rivergen.datasets import DatasetService
from rivergen.services.governance import GovernanceService
from rivergen.services.governance.schemas import AppliedPolicy, Policy, PolicyCreate
from rivergen.services.planning.catalog import PromptCatalog


class DatasetRead(BaseModel):
    dataset_id: UUID
    name: str
    version: int | None = None


class SqlAnswer(BaseModel):
    """A governed answer: the rows, and what was done to get them (for the explanation)."""

    sql: str = Field(description="The SQL as run (after governance rewrote it, if it did).")
    columns: list[str]
    types: list[str] = Field(default_factory=list, description="Arrow type of each column.")
    rows: list[dict[str, Any]]
    row_count: int = Field(description="Rows in the whole answer (``rows`` may hold fewer).")
    truncated: bool = False
    datasets: list[DatasetRead] = Field(default_factory=list)
    filters: list[str] = Field(
        default_factory=list, description="Filters of the query and row filters of policies."
    )
    policies: list[AppliedPolicy] = Field(default_factory=list)
    masked_columns: list[str] = Field(default_factory=list)


class SavedAnswer(BaseModel):
    """A write-back: the answer kept as a new dataset by a ``query`` job (governed for whoever
    confirmed it, and its result inherits what its inputs' policies hide)."""

    job_id: UUID
    name: str
    sql: str
    dataset_id: UUID | None = Field(None, description="None while the job still runs.")
    version: int | None = None
    policies: list[AppliedPolicy] = Field(default_factory=list)


class SqlRunner(Protocol):
    async def run(
        self, context: RequestContext, sql: str, catalog: PromptCatalog, row_limit: int
    ) -> SqlAnswer:
        """Parse, validate (read-only), govern and run ``sql`` over the catalog's tables for
        the caller; at most ``row_limit`` rows come back. Raises a ``RiverGenError`` with a
        code on refused SQL."""
        ...


class SqlRunnerFactory(Protocol):
    def __call__(
        self, datasets: DatasetService, governance: GovernanceService, timeout_s: float
    ) -> SqlRunner:
        """A SQL runner over ``datasets``, governed by ``governance`` (in this process or by
        handle), each query stopped after ``timeout_s``."""
        ...


class ResultSaver(Protocol):
    async def save(
        self, context: RequestContext, sql: str, name: str, catalog: PromptCatalog
    ) -> SavedAnswer:
        """Run ``sql`` (governed) and keep its whole answer as a new dataset ``name``."""
        ...


class PolicyWriter(Protocol):
    async def create(self, context: RequestContext, policy: PolicyCreate) -> Policy: ...
