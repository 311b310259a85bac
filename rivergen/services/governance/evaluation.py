"""Evaluating policies (pure: no I/O, no Ray) and applying what they make of a dataset to its
data. :func:`apply_to_table` is the one place a policy touches rows: every path that returns a
dataset's data (preview, export, profile, quality check, job inputs, job results) calls it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import TypeVar
from uuid import UUID

import pyarrow as pa
import pyarrow.compute as pc

from rivergen.engine.duck import EngineLimits, execute
from rivergen.engine.spec import RIGHT_SUFFIX, QuerySpec, check_query, conditions_sql
from rivergen.errors import Forbidden, ValidationFailed
from rivergen.services.governance.schemas import (
    AccessRule,
    AppliedPolicy,
    Governed,
    MaskMethod,
    MaskRule,
    Policy,
    QueryLimitRule,
    RoleName,
    RowFilterRule,
)

# How much each method hides: where several masks name a column, the strongest wins.
MASK_STRENGTH: dict[str, int] = {"partial": 1, "hash": 2, "redact": 3}
REDACTED = "****"
HASH_HEX_CHARS = 16
PARTIAL_KEEP = 4
N = TypeVar("N", int, float)


def applies(policy: Policy, dataset_id: UUID, role: RoleName) -> bool:
    """Whether ``policy`` governs ``dataset_id`` for ``role``."""
    return (
        policy.enabled
        and (policy.dataset_id is None or policy.dataset_id == dataset_id)
        and (policy.roles is None or role in policy.roles)
    )


def govern(policies: Sequence[Policy], dataset_id: UUID, role: RoleName) -> Governed:
    """What ``policies`` make of one dataset for one role.

    The enabled policies of the dataset and the workspace-wide ones that apply to ``role`` are
    taken by priority (lower first, then oldest): row filters AND together, masks unite (the
    strongest method of a column wins: redact over hash over partial), the smallest row and
    time limits hold, and a deny wins over everything (the whole dataset, or its columns).
    """
    chosen = sorted(
        (p for p in policies if applies(p, dataset_id, role)),
        key=lambda p: (p.priority, p.created_at, str(p.id)),
    )
    governed = Governed(dataset_id=dataset_id)
    for policy in chosen:
        rule = policy.rule
        if isinstance(rule, RowFilterRule):
            governed.row_filters.extend(rule.filters)
        elif isinstance(rule, MaskRule):
            for column in rule.columns:
                governed.masked[column] = stronger(governed.masked.get(column), rule.method)
        elif isinstance(rule, QueryLimitRule):
            governed.max_rows = _smallest(governed.max_rows, rule.max_rows)
            governed.timeout_s = _smallest(governed.timeout_s, rule.timeout_s)
        elif isinstance(rule, AccessRule):
            if rule.columns is None:
                governed.denied = True
            else:
                governed.denied_columns = sorted(set(governed.denied_columns) | set(rule.columns))
        governed.applied.append(AppliedPolicy(id=policy.id, name=policy.name, type=rule.type))
    return governed


def stronger(current: MaskMethod | None, method: MaskMethod) -> MaskMethod:
    if current is None or MASK_STRENGTH[method] > MASK_STRENGTH[current]:
        return method
    return current


def _smallest(current: N | None, limit: N | None) -> N | None:
    if limit is None:
        return current
    return limit if current is None else min(current, limit)


def changes_data(governed: Governed) -> bool:
    """Whether the data a caller sees differs from the stored data (rows or columns); a
    limit alone does not change the data."""
    return bool(
        governed.denied or governed.denied_columns or governed.row_filters or governed.masked
    )


def dataset_denied(dataset_id: UUID) -> Forbidden:
    return Forbidden(
        f"a policy denies dataset {dataset_id} to your role", code="dataset_denied",
        details={"dataset_id": str(dataset_id)},
    )  # fmt: skip


def check_columns(governed: Governed, columns: Iterable[str]) -> None:
    """Refuse a read that names a denied column (403 ``column_denied``) or any read of a denied
    dataset (403 ``dataset_denied``)."""
    if governed.denied:
        raise dataset_denied(governed.dataset_id)
    denied = sorted(set(columns) & set(governed.denied_columns))
    if denied:
        raise Forbidden(
            f"a policy denies column {', '.join(map(repr, denied))} to your role",
            code="column_denied",
            details={"dataset_id": str(governed.dataset_id), "columns": denied},
        )


def apply_to_table(table: pa.Table, governed: Governed) -> pa.Table:
    """The table as the governed caller may see it: rows filtered (on the raw values), then
    masked columns masked, then denied columns dropped. A denied dataset is refused (403
    ``dataset_denied``).

    Masks: on string columns ``redact`` gives ``****``, ``hash`` the first 16 hex digits of the
    value's SHA-256 (equal values stay equal, so masked keys still join), ``partial`` keeps the
    last 4 characters (shorter values are redacted); any other masked column becomes nulls of
    its type. A mask of a column the table lacks does nothing. A row filter on a column the
    table lacks, or that does not fit its type, leaves no rows: a filter never fails open.
    """
    if governed.denied:
        raise dataset_denied(governed.dataset_id)
    if governed.row_filters:
        table = _filter_rows(table, governed)
    for name, method in governed.masked.items():
        index = table.schema.get_field_index(name)
        if index >= 0:
            table = table.set_column(index, table.schema.field(index), mask(table[index], method))
    drop = [c for c in governed.denied_columns if c in table.column_names]
    return table.drop_columns(drop) if drop else table


# A row filter runs on the engine like any query, within these limits.
_FILTER_LIMITS = EngineLimits(memory_mb=4096, timeout_s=600.0, threads=1)


def _filter_rows(table: pa.Table, governed: Governed) -> pa.Table:
    spec = QuerySpec(dataset=governed.dataset_id, filters=governed.row_filters)
    schema = {field.name: str(field.type) for field in table.schema}
    try:
        check_query(spec, schema)
        sql = f"SELECT * FROM governed_input WHERE {conditions_sql(governed.row_filters)}"
        return execute(sql, {"governed_input": table}, _FILTER_LIMITS)
    except (ValidationFailed, pa.ArrowException):
        return table.slice(0, 0)


def mask(column: pa.ChunkedArray | pa.Array, method: MaskMethod) -> pa.ChunkedArray:
    """One column masked with ``method`` (see :func:`apply_to_table`)."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column], type=column.type)
    kind = column.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return pa.chunked_array([pa.nulls(len(column), type=kind)], type=kind)
    valid = pc.is_valid(column)
    if method == "redact":
        masked = pc.if_else(valid, pa.scalar(REDACTED, kind), pa.scalar(None, kind))
    elif method == "hash":
        masked = pa.chunked_array(
            [pa.array([None if v is None else _digest(v) for v in column.to_pylist()], kind)],
            type=kind,
        )
    else:
        length = pc.utf8_length(column)
        hidden = pc.binary_repeat(
            pa.scalar("*", kind), pc.max_element_wise(pc.subtract(length, PARTIAL_KEEP), 0)
        )
        kept = pc.binary_join_element_wise(
            hidden, pc.utf8_slice_codeunits(column, -PARTIAL_KEEP), pa.scalar("", kind)
        )
        masked = pc.if_else(pc.greater(length, PARTIAL_KEEP), kept, pa.scalar(REDACTED, kind))
        masked = pc.if_else(valid, masked, pa.scalar(None, kind))
    if isinstance(masked, pa.Array):
        masked = pa.chunked_array([masked], type=kind)
    return masked.cast(kind)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:HASH_HEX_CHARS]


def query_columns(spec: QuerySpec) -> set[str]:
    """Every column name a query names (a joined column also by its name without the suffix
    a clash gives it), for :func:`check_columns`."""
    names = {f.column for f in spec.filters} | set(spec.columns or []) | set(spec.group_by)
    names |= {a.column for a in spec.aggregates if a.column is not None}
    names |= {o.column for o in spec.order_by}
    if spec.join is not None:
        names |= set(spec.join.left_on) | set(spec.join.right_on)
    return names | {n.removesuffix(RIGHT_SUFFIX) for n in names}


def inherit(own: Governed, inputs: Iterable[Governed], pinned: Iterable[Governed]) -> Governed:
    """How a job's result dataset is governed for a reader: its own policies, plus by column
    name what the reader's policies make of the job's inputs. Columns masked in any input are
    masked (unless the job already masked them at least as strongly for its submitter: masking
    twice would spoil a hash), denied columns dropped, the smallest limits hold, and a denied
    input denies the result. Input row filters are not carried over (a result's rows need not
    be its inputs' rows)."""
    done: dict[str, MaskMethod] = {}
    for governed in pinned:
        for column, method in governed.masked.items():
            done[column] = stronger(done.get(column), method)
    shown = own.model_copy(deep=True)
    for governed in inputs:
        shown.denied = shown.denied or governed.denied
        for column, method in governed.masked.items():
            if column not in done or MASK_STRENGTH[done[column]] < MASK_STRENGTH[method]:
                shown.masked[column] = stronger(shown.masked.get(column), method)
        shown.denied_columns = sorted(set(shown.denied_columns) | set(governed.denied_columns))
        shown.max_rows = _smallest(shown.max_rows, governed.max_rows)
        shown.timeout_s = _smallest(shown.timeout_s, governed.timeout_s)
        shown.applied.extend(a for a in governed.applied if a not in shown.applied)
    return shown
