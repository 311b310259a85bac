"""Column lineage of an admitted query: which base columns each answer column derives from.

sqlglot traces every answer column back through renames, expressions, CASE, CTEs, subqueries,
joins and set operations to the relations' columns. An answer column is an *identity* of a
base column when it is that column, only renamed. A query is *row-preserving* when each answer
row is one row of its inputs (SELECT ... FROM ... [JOIN ...] [WHERE ...] [ORDER BY ...]:
no aggregate, grouping, DISTINCT, window, LIMIT or set operation anywhere): then a reader's
row filter on a base column that reaches the answer as an identity can be applied to the
answer. (Derived tables, CTEs and subqueries are fine so long as none of them aggregates,
groups, dedupes, windows or limits.) Where lineage cannot be traced, every column the query
reads stands for the column (never less than the truth).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import lineage as sqlglot_lineage
from sqlglot.optimizer.qualify import qualify

from rivergen.engine.sandbox import DIALECT


class BaseColumn(BaseModel):
    relation: str
    column: str


class ColumnLineage(BaseModel):
    sources: list[BaseColumn] = Field(default_factory=list)
    identity: bool = Field(False, description="The answer column is one base column, renamed.")


class QueryLineage(BaseModel):
    columns: dict[str, ColumnLineage] = Field(default_factory=dict)
    row_preserving: bool = False
    conditions: list[BaseColumn] = Field(
        default_factory=list,
        description="Base columns that decide which rows or groups the answer has, or their "
        "order (named in WHERE, JOIN, GROUP BY, HAVING, ORDER BY, QUALIFY or a window); by "
        "name, so a superset.",
    )


_NOT_ROW_PRESERVING: tuple[type[exp.Expr], ...] = (
    exp.AggFunc, exp.Window, exp.Union, exp.Intersect, exp.Except, exp.Limit, exp.Fetch,
    exp.Offset, exp.Group, exp.Having, exp.Distinct, exp.Unnest, exp.Lateral, exp.Qualify,
)  # fmt: skip


def row_preserving(query: exp.Expr) -> bool:
    return isinstance(query, exp.Select) and not any(
        isinstance(node, _NOT_ROW_PRESERVING) for node in query.walk()
    )


_DECIDING: tuple[type[exp.Expr], ...] = (
    exp.Where,
    exp.Join,
    exp.Group,
    exp.Having,
    exp.Order,
    exp.Qualify,
    exp.Window,
)


def _conditions(query: exp.Expr, schemas: Mapping[str, Mapping[str, str]]) -> list[BaseColumn]:
    names: set[str] = set()
    for column in query.find_all(exp.Column):
        if column.find_ancestor(*_DECIDING) is not None:
            names.add(column.name.casefold())
    for join in query.find_all(exp.Join):
        names |= {i.name.casefold() for i in join.args.get("using") or []}
    return [
        BaseColumn(relation=r, column=c)
        for r, cs in schemas.items() for c in cs if c.casefold() in names
    ]  # fmt: skip


def query_lineage(
    query: exp.Expr,
    schemas: Mapping[str, Mapping[str, str]],
    outputs: Sequence[str],
) -> QueryLineage:
    """The lineage of ``outputs`` (the answer's columns, in order) of ``query``, whose tables
    are named as the keys of ``schemas`` (relation -> column -> type)."""
    folded = {r.casefold(): r for r in schemas}
    everything = [BaseColumn(relation=r, column=c) for r, cs in schemas.items() for c in cs]
    fallback = QueryLineage(
        columns={name: ColumnLineage(sources=everything) for name in outputs},
        conditions=everything,
    )
    schema: dict[str, object] = {r: dict(cs) for r, cs in schemas.items()}
    try:
        qualified = qualify(
            query.copy(), schema=schema, dialect=DIALECT, validate_qualify_columns=False,
            quote_identifiers=False,
        )  # fmt: skip
    except (SqlglotError, KeyError, ValueError):
        return fallback
    projections = qualified.selects if isinstance(qualified, exp.Query) else []
    if len(projections) != len(outputs):
        return fallback
    found = QueryLineage(
        row_preserving=row_preserving(qualified), conditions=_conditions(query, schemas)
    )
    for projection, name in zip(projections, outputs, strict=True):
        sources: list[BaseColumn] = []
        plain = True
        try:
            node = sqlglot_lineage(
                projection.alias_or_name, qualified, schema=schema, dialect=DIALECT
            )
            for leaf in node.walk():
                step = leaf.expression
                step = step.this if isinstance(step, exp.Alias) else step
                plain = plain and isinstance(step, exp.Column | exp.Table)
                if not isinstance(leaf.expression, exp.Table):
                    continue
                relation = folded.get(leaf.expression.name.casefold())
                if relation is None:
                    continue
                wanted = leaf.name.rsplit(".", 1)[-1].casefold()
                for column in schemas[relation]:
                    source = BaseColumn(relation=relation, column=column)
                    if column.casefold() == wanted and source not in sources:
                        sources.append(source)
        except (SqlglotError, KeyError, ValueError, IndexError):
            return fallback
        identity = plain and len(sources) == 1
        found.columns[name] = ColumnLineage(sources=sources, identity=identity)
    return found
