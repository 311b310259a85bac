"""Column lineage of an admitted query: which base columns each answer column derives from.

sqlglot traces every answer column back through renames, expressions, CASE, CTEs, subqueries,
joins and set operations to the relations' columns. An answer column is an *identity* of a
base column when it is that column, only renamed. A query is *row-preserving* when each answer
row is one row of its inputs (SELECT ... FROM ... [JOIN ...] [WHERE ...] [ORDER BY ...]:
no aggregate, grouping, DISTINCT, window, LIMIT or set operation anywhere, and each relation
read once): then a reader's row filter on a base column that reaches the answer as an identity
can be applied to the answer. (Derived tables, CTEs and subqueries are fine so long as none of
them aggregates, groups, dedupes, windows or limits, and no relation or CTE is read twice: a
self-join, or a subquery over the same relation, would hold the filter for one read only.)
Where lineage cannot be traced, every column the query reads stands for the column (never
less than the truth): so does an answer column that reads something sqlglot cannot follow (a
whole row as a value, ``COLUMNS(...)``, a star inside an expression, a correlated subquery).
The columns that decide rows, groups or their order are found by name, through the aliases
that stand for them (``ORDER BY who``, ``GROUP BY 1``, ``ORDER BY ALL``, ``DISTINCT``,
set operations that compare rows); a name that is neither a column nor an alias stands for
every column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import lineage as sqlglot_lineage
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import build_scope

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
    exp.AggFunc,
    exp.Window,
    exp.Union,
    exp.Intersect,
    exp.Except,
    exp.Limit,
    exp.Fetch,
    exp.Offset,
    exp.Group,
    exp.Having,
    exp.Distinct,
    exp.Unnest,
    exp.Lateral,
    exp.Qualify,
)


def row_preserving(query: exp.Expr) -> bool:
    """Each answer row is one row of each input read (see the module)."""
    if not isinstance(query, exp.Select) or any(
        isinstance(node, _NOT_ROW_PRESERVING) for node in query.walk()
    ):
        return False
    # A relation (or CTE) read twice: a row filter applied through one read misses the other.
    reads = Counter(t.name.casefold() for t in query.find_all(exp.Table))
    return all(n == 1 for n in reads.values())


_DECIDING: tuple[type[exp.Expr], ...] = (
    exp.Where,
    exp.Join,
    exp.Group,
    exp.Having,
    exp.Order,
    exp.Qualify,
    exp.Window,
)


def _counted_star(node: exp.Expr) -> bool:
    return isinstance(node, exp.Star) and isinstance(node.parent, exp.Count)


def _names(node: exp.Expr) -> set[str] | None:
    """The column names ``node`` reads; None when it reads a star or ``COLUMNS(...)``."""
    if any(isinstance(n, exp.Star) and not _counted_star(n) for n in node.walk()):
        return None
    if any(isinstance(n, exp.Columns | exp.TableColumn) for n in node.walk()):
        return None
    return {c.name.casefold() for c in node.find_all(exp.Column)}


def _decided_by(select: exp.Select) -> list[exp.Expr]:
    """The projections of ``select`` that decide its rows, groups or order without naming a
    column there: ``DISTINCT``, ``GROUP BY ALL``, ``ORDER BY ALL``, ``GROUP BY 1``."""
    projections = list(select.expressions)
    group, order = select.args.get("group"), select.args.get("order")
    distinct = select.args.get("distinct")
    if (distinct is not None and distinct.args.get("on") is None) or (
        group is not None and group.args.get("all")
    ):
        return projections
    items = [*(group.expressions if group else []), *(o.this for o in order or [])]
    chosen: list[exp.Expr] = []
    for item in items:
        if isinstance(item, exp.Var) and item.name.upper() == "ALL":
            return projections
        if isinstance(item, exp.Literal) and item.is_int:
            position = int(item.name) - 1
            chosen += projections[position : position + 1] if position >= 0 else projections
    return chosen


def _deciding(query: exp.Expr) -> list[exp.Expr] | None:
    """What decides the rows, groups or order of ``query``: columns named there, and the
    projections that do it unnamed; None: every column (a NATURAL join)."""
    deciding: list[exp.Expr] = []
    for node in query.find_all(exp.Column, exp.Star, exp.Columns, exp.TableColumn):
        if node.find_ancestor(*_DECIDING, exp.Distinct) is not None and not _counted_star(node):
            deciding.append(node)
    for join in query.find_all(exp.Join):
        if join.args.get("method"):  # NATURAL: every name the two sides share
            return None
        deciding += [exp.column(i.name) for i in join.args.get("using") or []]
    for select in query.find_all(exp.Select):
        deciding += _decided_by(select)
    # Set operations but UNION ALL compare whole rows.
    for operation in query.find_all(exp.Union, exp.Intersect, exp.Except):
        if not isinstance(operation, exp.Union) or operation.args.get("distinct"):
            deciding += [p for s in operation.find_all(exp.Select) for p in s.expressions]
    return deciding


def _through_aliases(query: exp.Expr, names: set[str]) -> tuple[set[str], set[str]] | None:
    """``names`` and the names of what the aliases among them stand for (ORDER BY who, WHERE
    who, a CTE's column), transitively, and which of them are aliases; None: an alias stands
    for a star."""
    aliases: dict[str, list[exp.Expr]] = {}
    for alias in query.find_all(exp.Alias):
        aliases.setdefault(alias.alias.casefold(), []).append(alias.this)
    names = set(names)
    pending = list(names)
    while pending:
        for expression in aliases.get(pending.pop(), []):
            found = _names(expression)
            if found is None:
                return None
            pending += sorted(found - names)
            names |= found
    return names, names & set(aliases)


def _conditions(query: exp.Expr, schemas: Mapping[str, Mapping[str, str]]) -> list[BaseColumn]:
    everything = [BaseColumn(relation=r, column=c) for r, cs in schemas.items() for c in cs]
    deciding = _deciding(query)
    named = [_names(node) for node in deciding] if deciding is not None else [None]
    if any(found is None for found in named):
        return everything
    resolved = _through_aliases(query, set().union(*(n for n in named if n is not None)))
    if resolved is None:
        return everything
    names, aliases = resolved
    columns = {c.casefold() for cs in schemas.values() for c in cs}
    if names - columns - aliases:
        return everything  # a name that is no column: say a whole row (ORDER BY c)
    return [b for b in everything if b.column.casefold() in names]


def _opaque(node: Any) -> bool:
    """Whether a column's lineage (sqlglot's node) reads something it did not follow to a
    relation's column: a whole row as a value, ``COLUMNS(...)``, a star inside an expression,
    a correlated subquery (a placeholder)."""
    for step in node.walk():
        expression = step.expression
        if isinstance(expression, exp.Table):
            continue
        for inner in expression.walk():
            if isinstance(inner, exp.Column) and not inner.table:
                return True
            if isinstance(inner, exp.Columns | exp.Placeholder | exp.TableColumn):
                return True
            if isinstance(inner, exp.Star) and not _counted_star(inner):
                return True
        if not step.downstream and any(
            isinstance(n, exp.Column | exp.Query) for n in expression.walk()
        ):
            return True
    return False


def _sources(node: Any, schemas: Mapping[str, Mapping[str, str]]) -> tuple[list[BaseColumn], bool]:
    """The base columns a column's lineage (sqlglot's node) reaches, and whether every step
    of the way is a column (a rename)."""
    folded = {r.casefold(): r for r in schemas}
    sources: list[BaseColumn] = []
    plain = True
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
    return sources, plain


def query_lineage(
    query: exp.Expr,
    schemas: Mapping[str, Mapping[str, str]],
    outputs: Sequence[str],
) -> QueryLineage:
    """The lineage of ``outputs`` (the answer's columns, in order) of ``query``, whose tables
    are named as the keys of ``schemas`` (relation -> column -> type)."""
    everything = [BaseColumn(relation=r, column=c) for r, cs in schemas.items() for c in cs]
    fallback = QueryLineage(
        columns={name: ColumnLineage(sources=everything) for name in outputs},
        conditions=everything,
    )
    schema: dict[str, object] = {r: dict(cs) for r, cs in schemas.items()}
    try:
        qualified = qualify(
            query.copy(),
            schema=schema,
            dialect=DIALECT,
            validate_qualify_columns=False,
            quote_identifiers=False,
        )
    except (SqlglotError, KeyError, ValueError):
        return fallback
    projections = qualified.selects if isinstance(qualified, exp.Query) else []
    if len(projections) != len(outputs):
        return fallback
    found = QueryLineage(
        row_preserving=row_preserving(qualified), conditions=_conditions(qualified, schemas)
    )
    try:
        # Every output's graph in one walk over the query already qualified above.
        nodes = sqlglot_lineage(
            None, qualified, schema=schema, dialect=DIALECT, scope=build_scope(qualified)
        )
    except (SqlglotError, KeyError, ValueError, IndexError):
        return fallback
    names = [p.alias_or_name for p in projections]
    if not isinstance(nodes, dict) or len(set(names)) != len(names):
        return fallback  # two outputs of one name: which graph is whose is unknown
    for projection, name in zip(projections, outputs, strict=True):
        node = nodes.get(projection.alias_or_name)
        if node is None:
            return fallback
        try:
            sources, plain = _sources(node, schemas)
        except (KeyError, ValueError, IndexError):
            return fallback
        if _opaque(node):
            sources, plain = everything, False
        identity = plain and len(sources) == 1
        found.columns[name] = ColumnLineage(sources=sources, identity=identity)
    return found
