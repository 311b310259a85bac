"""The Governance service: a workspace's policies (kept in Postgres, changed by admins; every
change is in the audit trail like any mutating call) and what they make of datasets for a role.

Evaluation itself is pure (:mod:`rivergen.services.governance.evaluation`); this service loads
the policies in a tenant transaction and evaluates them for the caller's role.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast, get_args
from uuid import UUID

from rivergen.accounts.principal import RequestContext
from rivergen.db import Database
from rivergen.engine.lineage import QueryLineage
from rivergen.engine.spec import QuerySpec, check_query
from rivergen.errors import Forbidden, NotFound, ValidationFailed
from rivergen.pagination import decode_cursor, encode_cursor
from rivergen.services.governance import store
from rivergen.services.governance.evaluation import (
    applies,
    changes_data,
    derived_denied,
    govern,
    inherit,
    shows_more,
)
from rivergen.services.governance.schemas import (
    AccessRule,
    Governed,
    JobLineage,
    MaskRule,
    Policy,
    PolicyCreate,
    PolicyEvaluate,
    PolicyPage,
    PolicyUpdate,
    RoleName,
    RowFilterRule,
    Rule,
)


def policy_not_found(policy: UUID) -> NotFound:
    return NotFound(f"policy {policy} not found", code="policy_not_found")


def changes_export(governed: Governed) -> bool:
    """Whether what the caller may take of a dataset (a download, its content, a copy) differs
    from the stored data: the policies change the data, or a row limit caps it."""
    return changes_data(governed) or governed.max_rows is not None


def record_of(governed: Mapping[UUID, Governed], *, every: bool = False) -> dict[str, Any]:
    """What a kept computation records of its creator's governance (dataset id -> Governed as
    JSON), for :meth:`GovernanceService.withheld`: the datasets whose data the creator's
    policies changed (one left out was seen unchanged), or ``every`` one (the record then
    also says which datasets it read)."""
    return {
        str(d): g.model_dump(mode="json") for d, g in governed.items() if every or changes_data(g)
    }


def load_record(value: Any, datasets: Iterable[UUID]) -> dict[UUID, Governed]:
    """The creator's governance of each of ``datasets`` from a record of :func:`record_of`
    (JSON text, a mapping, or None: not recorded, taken as ungoverned, the strictest
    comparison for a reader)."""
    found = json.loads(value) if isinstance(value, str) else (value or {})
    return {
        d: Governed.model_validate(found[str(d)]) if str(d) in found else Governed(dataset_id=d)
        for d in datasets
    }


def role_of(context: RequestContext) -> RoleName:
    """The caller's workspace role as policies name it (no role: the narrowest, viewer)."""
    return cast(RoleName, context.role.name) if context.role is not None else "viewer"


class GovernanceService:
    def __init__(self, db: Database) -> None:
        self._db = db

    # Policies ------------------------------------------------------------------------------

    async def create(self, context: RequestContext, request: PolicyCreate) -> Policy:
        """A new policy; its columns are checked against the dataset's current schema (422
        ``column_not_found`` / ``column_type_mismatch``; 404 ``dataset_not_found``)."""
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            await _check_against_schema(conn, request)
            row = await store.insert(
                conn, uuid.uuid4(), workspace, request.model_dump(mode="json"), context.actor
            )
        return _policy(row)

    async def get(self, context: RequestContext, policy: UUID) -> Policy:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            row = await store.get(conn, policy)
        if row is None:
            raise policy_not_found(policy)
        return _policy(row)

    async def list_policies(
        self, context: RequestContext, dataset: UUID | None, limit: int, cursor: str | None
    ) -> PolicyPage:
        after = decode_cursor(cursor)
        async with self._db.transaction(str(context.require_workspace())) as conn:
            rows = await store.page(conn, dataset, after, limit)
        return PolicyPage(
            items=[_policy(r) for r in rows[:limit]],
            next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )

    async def update(self, context: RequestContext, policy: UUID, request: PolicyUpdate) -> Policy:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            row = await store.get(conn, policy, lock=True)
            if row is None:
                raise policy_not_found(policy)
            current = _policy(row)
            changes = request.model_dump(exclude_unset=True)
            merged = PolicyCreate.model_validate(
                {**current.model_dump(include=set(PolicyCreate.model_fields)), **changes}
            )
            await _check_against_schema(conn, merged)
            row = await store.update(conn, policy, merged.model_dump(mode="json"))
        return _policy(row)

    async def delete(self, context: RequestContext, policy: UUID) -> None:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            if not await store.delete(conn, policy):
                raise policy_not_found(policy)

    # Evaluation ----------------------------------------------------------------------------

    async def evaluate(self, context: RequestContext, request: PolicyEvaluate) -> Governed:
        """What the policies make of a dataset for a role (default: the caller's), with what a
        job result inherits from its inputs."""
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            if await store.current_columns(conn, request.dataset_id) is None:
                raise NotFound(f"dataset {request.dataset_id} not found", code="dataset_not_found")
        role = request.role or role_of(context)
        return (await self.governed_for(workspace, role, [request.dataset_id]))[request.dataset_id]

    async def check_raw_access(self, context: RequestContext, what: str) -> None:
        """Refuse a read of raw bytes that no policy can govern (an uploaded file, objects of
        the platform's bucket) to a caller any enabled policy of the workspace applies to:
        403 ``raw_access_governed``. Their datasets stay readable, governed."""
        async with self._db.transaction(str(context.require_workspace())) as conn:
            rows = await store.enabled(conn)
        role = role_of(context)
        binding = [p for p in map(_policy, rows) if p.roles is None or role in p.roles]
        if binding:
            raise Forbidden(
                f"{what} is raw data, and the workspace's policies govern what a {role} sees: "
                "read it through its datasets",
                code="raw_access_governed",
                details={"policies": [p.name for p in binding[:10]]},
            )

    async def check_source_access(
        self,
        context: RequestContext,
        kind: Literal["file", "data_source"],
        source: UUID,
        key: str | None = None,
    ) -> None:
        """Refuse making a dataset, or a version, from a file or data source that a dataset
        the caller's policies govern was made from (any that changes the data, or caps its
        rows): 403 ``raw_access_governed``. A copy would be the raw data again; the caller
        reads it through the governed datasets. ``key`` names the data whatever its id (a
        file's content hash, a data source's config: see ``store._IMPORTS``): another file or
        source of the same key is the same source."""
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            made = await store.made_from(conn, kind, source, key)
        if not made:
            return
        role = role_of(context)
        governed = await self.governed_for(workspace, role, made)
        binding = sorted(str(d) for d, g in governed.items() if changes_export(g))
        if binding:
            policies = sorted({a.name for d in binding for a in governed[UUID(d)].applied})
            what = "file" if kind == "file" else "data source"
            raise Forbidden(
                f"{what} {source} is raw data of datasets whose policies govern what a {role} "
                "sees: read it through those datasets",
                code="raw_access_governed",
                details={"datasets": binding[:10], "policies": policies[:10]},
            )

    async def withheld(
        self,
        context: RequestContext,
        creator: Mapping[UUID, Governed],
        columns: Iterable[str] | None = None,
    ) -> list[UUID]:
        """The datasets of ``creator`` (dataset -> the governance a kept computation over it
        ran under) whose data, as that computation holds it, the caller's own policies would
        hide more of (:func:`~rivergen.services.governance.evaluation.shows_more`, on
        ``columns`` if given): what derives from them is not the caller's to see."""
        if not creator:
            return []
        named = set(columns) if columns is not None else None
        reader = await self.governed(context, creator)
        return [d for d, g in reader.items() if shows_more(g, creator[d], named)]

    async def check_derived(
        self,
        context: RequestContext,
        creator: Mapping[UUID, Governed],
        columns: Iterable[str] | None = None,
    ) -> None:
        """403 ``derived_from_governed_data`` when :meth:`withheld` names a dataset."""
        hidden = await self.withheld(context, creator, columns)
        if hidden:
            raise derived_denied(hidden[0])

    async def governs_anyone(
        self,
        workspace: UUID,
        dataset_ids: Iterable[UUID],
        source: tuple[str, UUID, str | None] | None = None,
    ) -> bool:
        """Whether the policies change the data of any of ``dataset_ids`` for some role (or of
        a dataset imported from ``source``, (kind, id, key), which a new import of it
        inherits): then what is broadcast to the whole workspace (events) carries no counts or
        values of it."""
        wanted = list(dict.fromkeys(dataset_ids))
        if source is not None:
            async with self._db.transaction(str(workspace)) as conn:
                wanted += await store.made_from(conn, *source)
        if not wanted:
            return False
        by_role = await self.governed_for_roles(workspace, get_args(RoleName), wanted)
        return any(changes_data(g) for governed in by_role.values() for g in governed.values())

    async def governed(
        self, context: RequestContext, dataset_ids: Iterable[UUID]
    ) -> dict[UUID, Governed]:
        """What the policies make of each dataset for the caller's role."""
        return await self.governed_for(context.require_workspace(), role_of(context), dataset_ids)

    async def governed_for(
        self, workspace: UUID, role: RoleName, dataset_ids: Iterable[UUID]
    ) -> dict[UUID, Governed]:
        """What the policies make of each dataset for ``role``; a job's result dataset also
        inherits, by column name, what they make of the job's inputs (and theirs, up the
        lineage), so a result never shows what its inputs would hide.

        A dataset imported from a file or data source that other datasets were imported from
        too (by any of their versions) is the same data: the policies of those datasets govern
        it as well, read from the provenance at every evaluation (so later changes of those
        policies follow). An inherited policy that names a column some version of the dataset
        lacks (staged with other options, say without a header) denies the dataset to its roles:
        a mask that finds no column would show the data."""
        return (await self.governed_for_roles(workspace, [role], dataset_ids))[role]

    async def governed_for_roles(
        self, workspace: UUID, roles: Iterable[RoleName], dataset_ids: Iterable[UUID]
    ) -> dict[RoleName, dict[UUID, Governed]]:
        """:meth:`governed_for` for each of ``roles``, the policies and lineage read once."""
        wanted = list(dict.fromkeys(dataset_ids))
        if not wanted:
            return {role: {} for role in roles}
        async with self._db.transaction(str(workspace)) as conn:
            # The common case (no job results among them) in one round trip.
            first, sibling_rows, policy_rows = await store.picture(conn, wanted)
            lineage = await _lineage(conn, wanted, first)
            seen = set(wanted) | {i for jobs in lineage.values() for j in jobs for i in j.inputs}
            ancestors = list(seen - set(wanted))
            if ancestors:  # the inputs of job results: their siblings and policies too
                sibling_rows += await store.same_source(conn, ancestors)
            siblings: dict[UUID, set[UUID]] = {}
            for row in sibling_rows:
                siblings.setdefault(row["dataset"], set()).add(row["sibling"])
            if ancestors:
                related = seen.union(*siblings.values())
                policy_rows = await store.for_datasets(conn, list(related))
            policies = [_policy(r) for r in policy_rows]
            inheriting = [
                d for d, of in siblings.items() if any(p.dataset_id in of for p in policies)
            ]
            columns = await store.version_columns(conn, inheriting) if inheriting else {}

        def for_role(role: RoleName) -> dict[UUID, Governed]:
            memo: dict[UUID, Governed] = {}

            def resolve(dataset: UUID, depth: int = 0) -> Governed:
                if dataset not in memo:
                    own = _with_same_source(
                        policies,
                        dataset,
                        role,
                        siblings.get(dataset, set()),
                        columns.get(dataset, set()),
                    )
                    own.workspace_id = workspace
                    if dataset in lineage and depth < _MAX_LINEAGE_DEPTH:
                        for job in lineage[dataset]:
                            readers = {i: resolve(i, depth + 1) for i in job.inputs}
                            own = inherit(own, job, readers)
                    memo[dataset] = own
                return memo[dataset]

            return {dataset: resolve(dataset) for dataset in wanted}

        return {role: for_role(role) for role in roles}


def _with_same_source(
    policies: list[Policy],
    dataset: UUID,
    role: RoleName,
    siblings: set[UUID],
    columns: set[str],
) -> Governed:
    """What ``policies`` make of ``dataset`` for ``role``, those of ``siblings`` (datasets
    imported from the same file or data source) included as if they were its own; one that
    names a column ``columns`` lacks denies it."""
    inherited = [
        p.model_copy(update={"dataset_id": dataset}) for p in policies if p.dataset_id in siblings
    ]
    governed = govern([*policies, *inherited], dataset, role)
    if any(applies(p, dataset, role) and not _named(p.rule) <= columns for p in inherited):
        governed.denied = True
    return governed


def _named(rule: Rule) -> set[str]:
    """The columns a rule names."""
    if isinstance(rule, RowFilterRule):
        return {f.column for f in rule.filters}
    if isinstance(rule, MaskRule | AccessRule):
        return set(rule.columns or [])
    return set()


# How far up the lineage a result inherits its inputs' governance.
_MAX_LINEAGE_DEPTH = 8


async def _lineage(
    conn: Any, datasets: list[UUID], first: list[Any] | None = None
) -> dict[UUID, list[JobLineage]]:
    """For each job result among ``datasets`` and their ancestors: each job that made it, with
    its inputs, the governance it pinned and its column lineage (``first``: the
    :func:`~rivergen.services.governance.store.job_inputs` of ``datasets``, if read already)."""
    found: dict[UUID, dict[UUID, JobLineage]] = {}
    frontier = datasets
    for depth in range(_MAX_LINEAGE_DEPTH):
        rows = first if depth == 0 and first is not None else await store.job_inputs(conn, frontier)
        for row in rows:
            jobs = found.setdefault(row["result"], {})
            job = jobs.get(row["job"])
            if job is None:
                pinned = {
                    UUID(k): Governed.model_validate(g)
                    for k, g in json.loads(row["governance"]).items()
                }
                lineage = (
                    QueryLineage.model_validate_json(row["column_lineage"])
                    if row["column_lineage"]
                    else None
                )
                job = jobs[row["job"]] = JobLineage(pinned=pinned, lineage=lineage)
            if row["input"] not in job.inputs:
                job.inputs.append(row["input"])
        frontier = [row["input"] for row in rows if row["input"] not in found]
        if not frontier:
            break
    return {dataset: list(jobs.values()) for dataset, jobs in found.items()}


async def _check_against_schema(conn: Any, policy: PolicyCreate) -> None:
    if policy.dataset_id is None:
        return  # workspace-wide: applies to the datasets that have its columns
    schema = await store.current_columns(conn, policy.dataset_id)
    if schema is None:
        raise NotFound(f"dataset {policy.dataset_id} not found", code="dataset_not_found")
    rule = policy.rule
    if isinstance(rule, RowFilterRule):
        check_query(QuerySpec(dataset=policy.dataset_id, filters=rule.filters), schema)
    elif isinstance(rule, MaskRule | AccessRule):
        _require_columns(schema, rule.columns or [])


def _require_columns(schema: Mapping[str, str], columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in schema]
    if missing:
        raise ValidationFailed(
            f"no column {', '.join(map(repr, missing))} in the dataset's current version "
            f"(columns: {', '.join(schema)})",
            code="column_not_found",
            details={"columns": missing},
        )


def _policy(row: Any) -> Policy:
    """A policy from its row (``rule`` as stored JSON text, or decoded already)."""
    fields = dict(row)
    if isinstance(fields["rule"], str):
        fields["rule"] = json.loads(fields["rule"])
    fields["roles"] = list(fields["roles"]) if fields["roles"] is not None else None
    return Policy.model_validate(fields)
