"""The agent's tools: typed arguments, the route each one's access follows, and what it runs.

Every call goes through :meth:`ToolBox.check` first (the authorization table,
``rivergen.acl.TOOL_ROUTES``), then its arguments are validated; a write is only *proposed*
(:meth:`ToolBox.propose`) until a person confirms it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field, ValidationError

from rivergen.accounts.principal import RequestContext
from rivergen.acl import Access, role_allows, tool_access
from rivergen.agents.prompt_studio.ports import PolicyWriter, ResultSaver, SqlRunner
from rivergen.agents.prompt_studio.steps import ToolCall, ToolSpec
from rivergen.datasets import DatasetService
from rivergen.errors import Forbidden, NotFound, ValidationFailed
from rivergen.jobs import JobService
from rivergen.jobs.schemas import JobCreate
from rivergen.services.governance.schemas import PolicyCreate
from rivergen.services.planning.catalog import CatalogTable, PromptCatalog


@dataclass(frozen=True)
class ToolContext:
    """Who calls, over which catalog."""

    request: RequestContext
    catalog: PromptCatalog
    row_limit: int = 1000


class ToolResult(BaseModel):
    summary: str
    result: dict[str, Any] = Field(default_factory=dict)


Run = Callable[[ToolContext, Any], Awaitable[ToolResult]]
Describe = Callable[[ToolContext, Any], str]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[BaseModel]
    run: Run
    writes: bool = False
    describe: Describe | None = field(default=None, compare=False)
    """What a proposed write will do, in a sentence (writes only)."""

    def spec(self) -> ToolSpec:
        schema = self.args.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(name=self.name, description=self.description, parameters=schema)


def resolve(catalog: PromptCatalog, ref: str) -> CatalogTable:
    """A dataset by name (as written, any case) or by id; 404 ``dataset_not_found``."""
    table = catalog.table(ref)
    if table is None:
        try:
            wanted = UUID(ref)
        except ValueError:
            wanted = None
        table = next((t for t in catalog.tables if t.dataset_id == wanted), None)
    if table is None:
        raise NotFound(
            f"no dataset {ref!r} in this workspace",
            code="dataset_not_found",
            details={"dataset": ref},
        )
    return table


def _read(table: CatalogTable) -> dict[str, Any]:
    return {"dataset_id": str(table.dataset_id), "name": table.name, "version": table.version}


# Arguments ------------------------------------------------------------------------------------


class DatasetArgs(BaseModel):
    dataset: str = Field(min_length=1, max_length=200, description="A dataset's name or id.")


class SearchArgs(BaseModel):
    query: str = Field(min_length=1, max_length=500, description="Words to look for.")
    limit: int = Field(10, ge=1, le=50)


class SqlArgs(BaseModel):
    sql: str = Field(min_length=1, max_length=20_000, description="One read-only SELECT.")


class SaveArgs(SqlArgs):
    name: str = Field(min_length=1, max_length=200, description="Name of the new dataset.")


class JobArgs(BaseModel):
    kind: str = Field(min_length=1, max_length=64, description="Job kind, e.g. `query`.")
    params: dict[str, Any] = Field(default_factory=dict, description="The kind's parameters.")
    dataset: str | None = Field(
        None, description="A dataset's name or id, passed as `params.dataset` if that is unset."
    )
    name: str | None = Field(None, max_length=200)


class PolicyArgs(BaseModel):
    policy: dict[str, Any] = Field(
        description="A policy: {name, description?, dataset (a dataset's name or id; omit for "
        "every dataset), rule: {type: row_filter|mask|query_limit|access, ...}, roles?, "
        "priority?}."
    )


# The tools ------------------------------------------------------------------------------------


def _search_tool(datasets: DatasetService) -> Tool:
    async def run(ctx: ToolContext, args: SearchArgs) -> ToolResult:
        found = await datasets.search(ctx.request, args.query, args.limit)
        names = ", ".join(h.name for h in found.items)
        summary = (
            f"{len(found.items)} dataset(s) match {args.query!r}: {names}."
            if found.items
            else f"No dataset matches {args.query!r}."
        )
        return ToolResult(
            summary=summary, result={"datasets": [h.model_dump(mode="json") for h in found.items]}
        )

    return Tool(
        "search_catalog",
        "Find datasets whose name, tags, columns or descriptions match words.",
        SearchArgs,
        run,
    )


def _describe_tool(datasets: DatasetService) -> Tool:
    async def run(ctx: ToolContext, args: DatasetArgs) -> ToolResult:
        table = resolve(ctx.catalog, args.dataset)
        view = await datasets.get(ctx.request, table.dataset_id)
        columns = ", ".join(f"{c.name} ({c.type})" for c in view.columns)
        rows = f"{view.row_count} rows, " if view.row_count is not None else ""
        return ToolResult(
            summary=f"{view.name}: {rows}{len(view.columns)} columns: {columns}.",
            result={
                "datasets": [_read(table)],
                "row_count": view.row_count,
                "description": view.description,
                "tags": view.tags,
                "columns": [c.model_dump(mode="json") for c in view.columns],
            },
        )

    return Tool(
        "describe_dataset",
        "A dataset's columns, types, row count and description.",
        DatasetArgs,
        run,
    )


def _profile_tool(datasets: DatasetService) -> Tool:
    async def run(ctx: ToolContext, args: DatasetArgs) -> ToolResult:
        table = resolve(ctx.catalog, args.dataset)
        view = await datasets.profile(ctx.request, table.dataset_id, None)
        profile = view.profile
        return ToolResult(
            summary=f"Profiled {table.name} version {view.version}: {profile.row_count} rows, "
            f"{profile.column_count} columns.",
            result={
                "datasets": [_read(table)],
                "row_count": profile.row_count,
                "profile": profile.model_dump(mode="json"),
            },
        )

    return Tool(
        "profile_dataset",
        "Profile a dataset's columns (types, nulls, distinct "
        "values, statistics) and keep the profile.",
        DatasetArgs,
        run,
    )


def _job_tool(jobs: JobService) -> Tool:
    async def run(ctx: ToolContext, args: JobArgs) -> ToolResult:
        params = dict(args.params)
        reads = []
        if args.dataset is not None:
            table = resolve(ctx.catalog, args.dataset)
            params.setdefault("dataset", str(table.dataset_id))
            reads.append(_read(table))
        accepted = await jobs.submit(
            ctx.request, JobCreate(kind=args.kind, params=params, name=args.name)
        )
        return ToolResult(
            summary=f"Started a {args.kind} job ({accepted.job_id}); follow it with "
            f"GET /api/v1/jobs/{accepted.job_id}.",
            result={
                "job_id": str(accepted.job_id),
                "kind": args.kind,
                "state": accepted.state,
                "datasets": reads,
            },
        )

    return Tool(
        "start_job", "Start a compute job (kinds: query, pagerank, similarity, ...).", JobArgs, run
    )


def _delete_tool(datasets: DatasetService) -> Tool:
    async def run(ctx: ToolContext, args: DatasetArgs) -> ToolResult:
        table = resolve(ctx.catalog, args.dataset)
        await datasets.delete(ctx.request, table.dataset_id)
        return ToolResult(
            summary=f"Deleted dataset {table.name}.",
            result={"datasets": [_read(table)], "deleted": True},
        )

    def describe(ctx: ToolContext, args: DatasetArgs) -> str:
        table = resolve(ctx.catalog, args.dataset)
        return f"delete dataset {table.name} ({table.dataset_id}) and all its versions"

    return Tool(
        "delete_dataset",
        "Delete a dataset and all its versions (needs a person's confirmation).",
        DatasetArgs,
        run,
        writes=True,
        describe=describe,
    )


def _sql_tool(sql: SqlRunner) -> Tool:
    async def run(ctx: ToolContext, args: SqlArgs) -> ToolResult:
        answer = await sql.run(ctx.request, args.sql, ctx.catalog, ctx.row_limit)
        shown = "" if not answer.truncated else f" (the first {len(answer.rows)} shown)"
        return ToolResult(
            summary=f"The query returned {answer.row_count} row(s){shown}.",
            result=answer.model_dump(mode="json"),
        )

    return Tool(
        "run_sql",
        "Run one read-only SELECT over the datasets (as tables by name); "
        "the workspace's policies apply.",
        SqlArgs,
        run,
    )


def _save_tool(saver: ResultSaver) -> Tool:
    async def run(ctx: ToolContext, args: SaveArgs) -> ToolResult:
        saved = await saver.save(ctx.request, args.sql, args.name, ctx.catalog)
        if saved.dataset_id is None:
            return ToolResult(
                summary=f"Saving the answer as dataset {saved.name}: job {saved.job_id} runs.",
                result=saved.model_dump(mode="json"),
            )
        return ToolResult(
            summary=f"Saved the answer as dataset {saved.name} (job {saved.job_id}).",
            result={
                **saved.model_dump(mode="json"),
                "datasets": [
                    {
                        "dataset_id": str(saved.dataset_id),
                        "name": saved.name,
                        "version": saved.version,
                    }
                ],
            },
        )

    def describe(ctx: ToolContext, args: SaveArgs) -> str:
        return f"save the answer of `{args.sql}` as a new dataset {args.name}"

    return Tool(
        "save_result",
        "Keep a query's answer as a new dataset (needs a person's confirmation).",
        SaveArgs,
        run,
        writes=True,
        describe=describe,
    )


def policy_of(ctx: ToolContext, args: PolicyArgs) -> PolicyCreate:
    draft = dict(args.policy)
    ref = draft.pop("dataset", None)
    if ref is not None and draft.get("dataset_id") is None:
        draft["dataset_id"] = str(resolve(ctx.catalog, str(ref)).dataset_id)
    try:
        return PolicyCreate.model_validate(draft)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise ValidationFailed(
            "the policy is not valid", code="invalid_policy", details={"errors": errors}
        ) from None


def _policy_tool(policies: PolicyWriter) -> Tool:
    async def run(ctx: ToolContext, args: PolicyArgs) -> ToolResult:
        policy = await policies.create(ctx.request, policy_of(ctx, args))
        return ToolResult(
            summary=f"Created policy {policy.name} ({policy.rule.type}).",
            result={"policy": policy.model_dump(mode="json")},
        )

    def describe(ctx: ToolContext, args: PolicyArgs) -> str:
        policy = policy_of(ctx, args)
        target = f"dataset {policy.dataset_id}" if policy.dataset_id else "every dataset"
        return f"create the {policy.rule.type} policy {policy.name!r} on {target}"

    return Tool(
        "create_policy",
        "Create a governance policy (needs a person's confirmation).",
        PolicyArgs,
        run,
        writes=True,
        describe=describe,
    )


# The box --------------------------------------------------------------------------------------


class ToolBox:
    """The tools an agent may call, by name."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools = {t.name: t for t in tools}

    @classmethod
    def standard(
        cls,
        datasets: DatasetService,
        jobs: JobService,
        *,
        sql: SqlRunner | None = None,
        saver: ResultSaver | None = None,
        policies: PolicyWriter | None = None,
    ) -> ToolBox:
        """The platform's tools; run_sql, save_result and create_policy only with their port."""
        tools = [
            _search_tool(datasets),
            _describe_tool(datasets),
            _profile_tool(datasets),
            _job_tool(jobs),
            _delete_tool(datasets),
        ]
        if sql is not None:
            tools.append(_sql_tool(sql))
        if saver is not None:
            tools.append(_save_tool(saver))
        if policies is not None:
            tools.append(_policy_tool(policies))
        return cls(tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> list[ToolSpec]:
        return [t.spec() for t in self._tools.values()]

    def get(self, name: str) -> Tool:
        tool = self._tools.get(name)
        if tool is None:
            raise NotFound(
                f"no tool {name!r} (tools: {', '.join(self._tools)})",
                code="unknown_tool",
                details={"tool": name},
            )
        return tool

    def check(self, context: RequestContext, call: ToolCall) -> tuple[Tool, BaseModel, Access]:
        """The tool, its validated arguments and the access it needs, if the caller may call
        it: 404 ``unknown_tool``, 403 ``tool_forbidden`` (the caller's role does not pass the
        tool's route in the authorization table), 422 ``invalid_tool_arguments``."""
        tool = self.get(call.tool)
        access = tool_access(tool.name)
        role = context.role
        if access is None or role is None or not role_allows(role, access):
            who = role.name if role is not None else "caller"
            raise Forbidden(
                f"a {who} may not call {tool.name}; it needs {access or 'a route in the table'}",
                code="tool_forbidden",
                details={"tool": tool.name, "needs": access},
            )
        try:
            args = tool.args.model_validate(call.arguments)
        except ValidationError as exc:
            raise ValidationFailed(
                f"invalid arguments for {tool.name}",
                code="invalid_tool_arguments",
                details={"errors": exc.errors(include_url=False, include_input=False)},
            ) from None
        return tool, args, access

    async def run(self, ctx: ToolContext, call: ToolCall) -> ToolResult:
        """Check and run one call (writes too: the caller has had it confirmed)."""
        tool, args, _ = self.check(ctx.request, call)
        return await tool.run(ctx, args)
