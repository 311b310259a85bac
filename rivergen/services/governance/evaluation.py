"""Evaluating policies (pure: no I/O, no Ray) and applying what they make of a dataset to its
data. :func:`apply_to_table` is the one place a policy touches rows: every path that returns a
dataset's data (preview, export, profile, quality check, job inputs, job results) calls it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar
from uuid import UUID

import pyarrow as pa
import pyarrow.compute as pc

from rivergen.engine.duck import EngineLimits, execute
from rivergen.engine.lineage import QueryLineage
from rivergen.engine.spec import RIGHT_SUFFIX, Filter, QuerySpec, check_query, conditions_sql
from rivergen.errors import ConfigurationError, Forbidden, ValidationFailed
from rivergen.services.governance.schemas import (
    AccessRule,
    AppliedPolicy,
    Governed,
    JobLineage,
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
        governed.denied
        or governed.denied_columns
        or governed.row_filters
        or governed.masked
        or governed.blanked
        or governed.derived_denied
    )


def dataset_denied(dataset_id: UUID) -> Forbidden:
    return Forbidden(
        f"a policy denies dataset {dataset_id} to your role",
        code="dataset_denied",
        details={"dataset_id": str(dataset_id)},
    )


def derived_denied(dataset_id: UUID) -> Forbidden:
    return Forbidden(
        f"dataset {dataset_id} derives from data your role's policies hide, in a way they "
        "cannot be applied to (rows or groups computed over what you may not see): run the "
        "computation yourself over its inputs",
        code="derived_from_governed_data",
        details={"dataset_id": str(dataset_id)},
    )


def check_columns(governed: Governed, columns: Iterable[str]) -> None:
    """Refuse a read that names a denied column (403 ``column_denied``), any read of a denied
    dataset (403 ``dataset_denied``) or of one derived from what the caller may not see (403
    ``derived_from_governed_data``)."""
    if governed.denied:
        raise dataset_denied(governed.dataset_id)
    if governed.derived_denied:
        raise derived_denied(governed.dataset_id)
    denied = sorted(set(columns) & set(governed.denied_columns))
    if denied:
        raise Forbidden(
            f"a policy denies column {', '.join(map(repr, denied))} to your role",
            code="column_denied",
            details={"dataset_id": str(governed.dataset_id), "columns": denied},
        )


def apply_to_table(table: pa.Table, governed: Governed, hash_key: bytes | None = None) -> pa.Table:
    """The table as the governed caller may see it: rows filtered (on the raw values), then
    masked columns masked, then denied columns dropped. A denied dataset is refused (403
    ``dataset_denied``).

    Masks: on string columns ``redact`` gives ``****``, ``hash`` the first 16 hex digits of the
    value's HMAC-SHA256 under ``hash_key``, the workspace's key
    (:func:`rivergen.services.governance.keys.hash_key`: equal values stay equal within a
    workspace, so masked keys still join; no key, no hash: ``ConfigurationError``), ``partial``
    keeps the last 4 characters (shorter values are redacted); any other masked column becomes
    nulls of its type. A mask of a column the table lacks does nothing. A row filter on a
    column the table lacks, or that does not fit its type, leaves no rows: a filter never fails
    open. A blanked column (of a job's result, computed from masked values) is redacted whole:
    ``****`` in every row of a string column, nulls included; nulls in any other.
    """
    if governed.denied:
        raise dataset_denied(governed.dataset_id)
    if governed.derived_denied:
        raise derived_denied(governed.dataset_id)
    if governed.row_filters:
        table = _filter_rows(table, governed)
    for name, method in governed.masked.items():
        index = table.schema.get_field_index(name)
        if index >= 0:
            masked = mask(table[index], method, hash_key)
            table = table.set_column(index, table.schema.field(index), masked)
    for name in governed.blanked:
        index = table.schema.get_field_index(name)
        if index >= 0:
            table = table.set_column(index, table.schema.field(index), _blank(table[index]))
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


def mask(
    column: pa.ChunkedArray | pa.Array, method: MaskMethod, hash_key: bytes | None = None
) -> pa.ChunkedArray:
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
        masked = _keyed_digests(column, hash_key)
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


def _blank(column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        filled = pa.array([REDACTED] * len(column), type=kind)
    else:
        filled = pa.nulls(len(column), type=kind)
    return pa.chunked_array([filled], type=kind)


def _keyed_digests(column: pa.ChunkedArray, key: bytes | None) -> pa.ChunkedArray:
    """HMAC-SHA256 of each value under ``key`` (hex, cut to 16 digits), nulls kept: computed
    once per distinct value, then placed by index."""
    if key is None:
        raise ConfigurationError("a hash mask needs its workspace's key: none was given")
    distinct = pc.unique(column).drop_null()
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    digests = []
    for value in distinct.to_pylist():
        one = keyed.copy()
        one.update(value.encode())
        digests.append(one.hexdigest()[:HASH_HEX_CHARS])
    positions = pc.index_in(column, value_set=distinct)
    taken = pc.take(pa.array(digests, column.type), positions)
    if isinstance(taken, pa.Array):
        taken = pa.chunked_array([taken], type=column.type)
    return taken


def query_columns(spec: QuerySpec) -> set[str]:
    """Every column name a query names (a joined column also by its name without the suffix
    a clash gives it), for :func:`check_columns`."""
    names = {f.column for f in spec.filters} | set(spec.columns or []) | set(spec.group_by)
    names |= {a.column for a in spec.aggregates if a.column is not None}
    names |= {o.column for o in spec.order_by}
    if spec.join is not None:
        names |= set(spec.join.left_on) | set(spec.join.right_on)
    return names | {n.removesuffix(RIGHT_SUFFIX) for n in names}


def _as_strong(done: MaskMethod | None, method: MaskMethod) -> bool:
    return done is not None and MASK_STRENGTH[done] >= MASK_STRENGTH[method]


def inherit(own: Governed, job: JobLineage, readers: Mapping[UUID, Governed]) -> Governed:
    """How a job's result dataset is governed for a reader: its own policies, plus what the
    reader's policies on the job's inputs (``readers``: input -> Governed) hide beyond what
    the job's submitter saw (``job.pinned``), carried through the job's column lineage.

    - A denied input denies the result; the smallest limits hold.
    - A column masked for the reader but not (as strongly) for the submitter: a result column
      that is that column renamed gets the same mask; one computed from it is redacted whole
      (blanked: which of its rows are null is computed from the hidden values too, as in
      ``CASE WHEN contactName LIKE 'A%' THEN ... END``), and so is one that is a blanked
      column renamed; one that only decides rows (WHERE, JOIN, GROUP BY, ORDER BY, a window)
      makes the result derive from what the reader may not see.
    - A denied column: result columns computed from it are dropped; one that decides rows, as
      above.
    - A row filter the submitter did not have: applied to the result when the job keeps rows
      one for one and the filtered columns reach it as themselves; else the result derives
      from rows the reader may not see.

    What derives from hidden data in a way policies cannot be applied to is not shown at all
    (``derived_denied``: 403 ``derived_from_governed_data``). Without lineage (kinds other
    than queries) masks and denies follow column names, and any extra row filter denies."""
    shown = own.model_copy(deep=True)
    lineage = job.lineage
    for dataset in job.inputs:
        reader = readers.get(dataset, Governed(dataset_id=dataset))
        submitter = job.pinned.get(dataset, Governed(dataset_id=dataset))
        shown.denied = shown.denied or reader.denied
        shown.derived_denied = shown.derived_denied or (
            reader.derived_denied and not submitter.derived_denied
        )
        shown.max_rows = _smallest(shown.max_rows, reader.max_rows)
        shown.timeout_s = _smallest(shown.timeout_s, reader.timeout_s)
        shown.applied.extend(a for a in reader.applied if a not in shown.applied)
        hidden: dict[str, MaskMethod | None] = {
            c: m for c, m in reader.masked.items() if not _as_strong(submitter.masked.get(c), m)
        }
        hidden |= {c: None for c in reader.denied_columns if c not in submitter.denied_columns}
        blanked = {c for c in reader.blanked if c not in submitter.blanked}
        hidden |= {c: "redact" for c in blanked if c not in hidden}
        extra = [f for f in reader.row_filters if f not in submitter.row_filters]
        if lineage is None:
            _by_name(shown, hidden, blanked)
            shown.derived_denied = shown.derived_denied or bool(extra)
            continue
        key = str(dataset)
        deciding = {c.column for c in lineage.conditions if c.relation == key}
        if deciding & set(hidden):
            shown.derived_denied = True
        _hide_through(shown, hidden, blanked, key, lineage)
        if extra:
            _filter_through(shown, extra, key, lineage)
    return shown


def shows_more(reader: Governed, creator: Governed, columns: Iterable[str] | None = None) -> bool:
    """Whether data computed over a dataset under ``creator``'s governance of it (a model
    trained, a decision, a simulation, a report) would show ``reader`` more than the reader's
    own policies let them see: :func:`inherit` of the creator's governance for the reader, by
    column name (no lineage): the reader's dataset is denied, or has a row filter the creator
    did not have (an aggregate over rows the reader may not see), or masks or denies one of
    ``columns`` (None: any column) more than the creator's did. False when the reader's
    governance is the creator's, or looser; a row limit alone changes nothing."""
    dataset = reader.dataset_id
    job = JobLineage(inputs=[dataset], pinned={dataset: creator})
    shown = inherit(Governed(dataset_id=dataset), job, {dataset: reader})
    hidden = set(shown.masked) | set(shown.denied_columns)
    if columns is not None:
        hidden &= set(columns)
    return shown.denied or shown.derived_denied or bool(hidden)


def _hide_through(
    shown: Governed,
    hidden: Mapping[str, MaskMethod | None],
    blanked: set[str],
    key: str,
    lineage: QueryLineage,
) -> None:
    """Mask, blank or drop the result columns computed from ``hidden`` columns of one input
    (``blanked``: those of them redacted whole), through the job's lineage."""
    for name, column in lineage.columns.items():
        for source in column.sources:
            if source.relation != key or source.column not in hidden:
                continue
            method = hidden[source.column]
            if method is None:
                if name not in shown.denied_columns:
                    shown.denied_columns.append(name)
                continue
            shown.masked[name] = stronger(
                shown.masked.get(name), method if column.identity else "redact"
            )
            whole = not column.identity or source.column in blanked
            if whole and name not in shown.blanked:
                shown.blanked.append(name)


def _by_name(shown: Governed, hidden: Mapping[str, MaskMethod | None], blanked: set[str]) -> None:
    for column, method in hidden.items():
        if method is None:
            if column not in shown.denied_columns:
                shown.denied_columns.append(column)
        else:
            shown.masked[column] = stronger(shown.masked.get(column), method)
            if column in blanked and column not in shown.blanked:
                shown.blanked.append(column)


def _filter_through(shown: Governed, extra: list[Filter], key: str, lineage: QueryLineage) -> None:
    """Apply the reader's extra row filters of one input to a row-preserving result, through
    the result columns that are the filtered columns renamed; else deny the result."""
    identities = {
        column.sources[0].column: name
        for name, column in lineage.columns.items()
        if column.identity and column.sources and column.sources[0].relation == key
    }
    if not lineage.row_preserving or any(f.column not in identities for f in extra):
        shown.derived_denied = True
        return
    shown.row_filters.extend(f.model_copy(update={"column": identities[f.column]}) for f in extra)
