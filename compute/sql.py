"""Execution Support's SQL runner: a prompt's SQL, governed, on the engine as one Ray task.

Admit and check the statement against the catalog (:func:`compile_sql`: one read-only
query), ask Governance what each dataset read is for the caller (a denied dataset or column
is refused before anything runs), then in one task read each input as the caller may see it
(row filters and masks applied as it is read) and run the query on the engine, and clamp the
answer to the policies' row limit. Nothing here sees raw rows a policy hides.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any
from uuid import UUID

import pyarrow as pa
import ray

from compute.staging import QueryInput, RayDatasetCompute, query_input
from compute.tasks import outcome, require_ray
from rivergen.accounts.principal import RequestContext
from rivergen.agents.prompt_studio.ports import DatasetRead, SqlAnswer
from rivergen.datasets import DatasetService
from rivergen.engine.duck import EngineLimits
from rivergen.engine.spec import Filter
from rivergen.errors import ValidationFailed
from rivergen.jsonvalues import json_value
from rivergen.services.execution.sql import CompiledQuery, compile_sql, run_compiled
from rivergen.services.governance import GovernanceService
from rivergen.services.governance.evaluation import check_columns
from rivergen.services.governance.schemas import Governed
from rivergen.services.planning.catalog import PromptCatalog
from rivergen.settings import Settings

# A query's task reserves a quarter of a core: small answers, beside Serve's replicas.
TASK_CPUS = 0.25


def _answer(
    settings: Settings, limits: EngineLimits, compiled: CompiledQuery, inputs: list[QueryInput]
) -> pa.Table:
    tables = {i.dataset: query_input(settings, i) for i in inputs}
    return run_compiled(compiled, tables, limits)


_answer_task = ray.remote(num_cpus=TASK_CPUS, max_retries=0)(_answer)


def describe_filter(item: Filter) -> str:
    """A filter as people read it: ``country == 'Germany'``."""
    if item.op in ("is_null", "not_null"):
        return f"{item.column} {item.op.replace('_', ' ')}"
    return f"{item.column} {item.op.replace('_', ' ')} {item.value!r}"


def _smallest(values: Iterable[float | int | None]) -> Any:
    present = [v for v in values if v is not None]
    return min(present) if present else None


class RaySqlRunner:
    """:class:`rivergen.agents.prompt_studio.ports.SqlRunner` over staged datasets, as Ray tasks."""

    def __init__(
        self,
        datasets: DatasetService,
        governance: GovernanceService,
        compute: RayDatasetCompute,
        timeout_s: float,
    ) -> None:
        self._datasets = datasets
        self._governance = governance
        self._compute = compute
        self._timeout_s = timeout_s

    async def answer(
        self, context: RequestContext, sql: str, catalog: PromptCatalog
    ) -> tuple[CompiledQuery, dict[UUID, Governed], pa.Table]:
        """The whole governed answer (clamped to the policies' row limit)."""
        compiled = compile_sql(sql, catalog)
        ids = list(dict.fromkeys(compiled.datasets.values()))
        governed = await self._governance.governed(context, ids)
        for name, columns in compiled.reads.items():
            check_columns(governed[compiled.datasets[name]], columns)
        require_ray()
        names = {v: k for k, v in compiled.datasets.items()}
        inputs = []
        for dataset in ids:
            found = next((t for t in catalog.tables if t.dataset_id == dataset), None)
            _, key = await self._datasets.version_key(
                context, dataset, found.version if found else None
            )
            inputs.append(
                QueryInput(
                    relation=compiled.relations[str(dataset)],
                    dataset=dataset,
                    key=key,
                    columns=compiled.loads.get(names[dataset]),
                    governed=governed[dataset],
                )
            )
        timeout_s = _smallest([self._timeout_s, *(g.timeout_s for g in governed.values())])
        settings = self._compute.settings
        limits = EngineLimits.of(settings.engine, timeout_s).model_copy(update={"threads": 1})
        ref = _answer_task.remote(settings, limits, compiled, inputs)
        try:
            # The engine interrupts the query itself at the limit; this bounds the task too.
            async with asyncio.timeout(timeout_s + 30.0):
                table: pa.Table = await outcome(ref)
        except TimeoutError:
            ray.cancel(ref, force=True)
            raise ValidationFailed(
                f"the query ran longer than {timeout_s:g} s",
                code="query_timeout",
                details={"timeout_s": timeout_s},
            ) from None
        max_rows = _smallest(g.max_rows for g in governed.values())
        if max_rows is not None and table.num_rows > max_rows:
            table = table.slice(0, max_rows)
        return compiled, governed, table

    async def run(
        self, context: RequestContext, sql: str, catalog: PromptCatalog, row_limit: int
    ) -> SqlAnswer:
        compiled, governed, table = await self.answer(context, sql, catalog)
        shown = table.slice(0, row_limit)
        names = {v: k for k, v in compiled.datasets.items()}
        filters = list(compiled.conditions)
        applied, masked = [], []
        for dataset, governs in governed.items():
            filters += [f"{describe_filter(f)} (policy)" for f in governs.row_filters]
            applied += [p for p in governs.applied if p not in applied]
            masked += [f"{names[dataset]}.{column}" for column in governs.masked]
        return SqlAnswer(
            sql=compiled.sql,
            columns=table.column_names,
            types=[str(field.type) for field in table.schema],
            rows=[{k: json_value(v) for k, v in row.items()} for row in shown.to_pylist()],
            row_count=table.num_rows,
            truncated=shown.num_rows < table.num_rows,
            datasets=[
                DatasetRead(dataset_id=t.dataset_id, name=t.name, version=t.version)
                for t in catalog.tables
                if t.dataset_id in governed
            ],
            filters=filters,
            policies=applied,
            masked_columns=masked,
        )
