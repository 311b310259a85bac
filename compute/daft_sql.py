"""SQL that Daft plans as DuckDB would answer it: two general rewrites of an admitted query.

Daft (0.7) refuses two classes of SQL that DuckDB, the single-node engine, answers:

* decimal arithmetic whose type Daft widens past precision 38 (it adds precisions as Spark
  does, ``p1 + p2 + 1`` for a product, and takes an integer literal as a 19-digit decimal),
  or a ``CASE`` whose branches are a decimal and an integer literal (no common type).
  :func:`typed_decimals` gives every decimal sum, difference, product and conditional the
  type DuckDB gives it (an explicit ``CAST``), and divides decimals as DuckDB does, as
  ``DOUBLE``: Daft then computes the same exact values in the same scales;
* a correlated ``EXISTS`` whose subquery compares an inner column with an outer one other
  than by equality (``l2.k = l1.k AND l2.s <> l1.s``): Daft decorrelates equalities only.
  :func:`exists_as_aggregates` writes such an ``EXISTS`` as correlated scalar aggregates over
  the same rows (equalities only), which Daft decorrelates: an inner value ``<>`` the outer
  one exists when the least or the greatest inner value differs from it; one ``<`` (``<=``)
  it when the least does; one ``>`` (``>=``) it when the greatest does. NULLs count as in
  SQL: a comparison with NULL holds for no row, and an empty group has no such row.

Both only rewrite what they can type or resolve: anything else is left as written (Daft may
still refuse it, and the job falls back to the single-node engine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp

MAX_PRECISION = 38
# DuckDB keeps a product of two decimals that fit 64 bits in 64 bits (checked for overflow).
INT64_PRECISION = 18
# DECIMAL without a precision, in DuckDB.
DEFAULT_DECIMAL = (18, 3)


@dataclass(frozen=True)
class DecimalType:
    """A decimal type, or an integer literal (which DuckDB widens to the other side's type
    in a conditional and takes as DECIMAL(10, 0) or (19, 0) in arithmetic)."""

    precision: int
    scale: int
    literal: bool = False

    def sql(self) -> exp.DataType:
        return exp.DataType.build(f"DECIMAL({self.precision}, {self.scale})")


def _capped(precision: int) -> int:
    return min(precision, MAX_PRECISION)


def added(a: DecimalType, b: DecimalType) -> DecimalType:
    """DuckDB's type of ``a + b`` and ``a - b``."""
    scale = max(a.scale, b.scale)
    digits = max(a.precision - a.scale, b.precision - b.scale)
    return DecimalType(_capped(digits + scale + 1), scale)


def multiplied(a: DecimalType, b: DecimalType) -> DecimalType | None:
    """DuckDB's type of ``a * b`` (None: a scale past 38, which DuckDB refuses too)."""
    scale = a.scale + b.scale
    if scale > MAX_PRECISION:
        return None
    precision = a.precision + b.precision
    small = max(a.precision, b.precision) <= INT64_PRECISION and scale < INT64_PRECISION
    if precision > INT64_PRECISION and small:
        precision = INT64_PRECISION
    return DecimalType(_capped(precision), scale)


def common(types: list[DecimalType]) -> DecimalType:
    """DuckDB's type of a conditional's branches (integer literals take the decimals')."""
    decimals = [t for t in types if not t.literal] or types
    scale = max(t.scale for t in decimals)
    digits = max(t.precision - t.scale for t in decimals)
    return DecimalType(_capped(digits + scale), scale)


def _arithmetic(literal: DecimalType) -> DecimalType:
    """An integer literal as DuckDB takes it in arithmetic with a decimal."""
    return DecimalType(10 if literal.precision <= 9 else 19 if literal.precision <= 18 else 38, 0)


def literal_type(node: exp.Literal) -> DecimalType | None:
    if node.is_string:
        return None
    text = node.this.lstrip("+-")
    if not text.replace(".", "", 1).isdigit():
        return None  # an exponent: DuckDB reads it as DOUBLE
    whole, _, fraction = text.partition(".")
    if not fraction:
        return DecimalType(len(whole.lstrip("0")) or 1, 0, literal=True)
    return DecimalType(len(whole) + len(fraction), len(fraction))


def _arrow_type(kind: pa.DataType) -> DecimalType | None:
    if pa.types.is_decimal(kind):
        return DecimalType(kind.precision, kind.scale)
    return None


class _Types:
    """DecimalType types of the names a query refers to: the inputs' columns, then the aliases
    its inner queries give (a name with two types is not known)."""

    def __init__(self, schemas: Mapping[str, pa.Schema]) -> None:
        self._known: dict[str, DecimalType | None] = {}
        for schema in schemas.values():
            for field in schema:
                self.learn(field.name, _arrow_type(field.type))

    def learn(self, name: str, kind: DecimalType | None) -> None:
        name = name.casefold()
        if name in self._known and self._known[name] != kind:
            self._known[name] = None
        else:
            self._known[name] = kind

    def of(self, name: str) -> DecimalType | None:
        return self._known.get(name.casefold())


def typed_decimals(tree: exp.Expr, schemas: Mapping[str, pa.Schema]) -> exp.Expr:
    """``tree`` with DuckDB's decimal types made explicit (see the module): inner queries
    first, so an outer query knows the types of their columns."""
    tree = tree.copy()
    types = _Types(schemas)
    selects = sorted(tree.find_all(exp.Select), key=_depth, reverse=True)
    for select in selects:
        for key in ("expressions", "where", "having", "group", "order", "qualify"):
            value = select.args.get(key)
            for node in value if isinstance(value, list) else [value]:
                if isinstance(node, exp.Expr):
                    _type(node, types)
        for projection in select.expressions:
            if isinstance(projection, exp.Alias):
                types.learn(projection.alias, _typed(projection))
    return tree


def _depth(node: exp.Expr) -> int:
    depth = 0
    while node.parent is not None:
        node = node.parent
        depth += 1
    return depth


def _type(node: exp.Expr, types: _Types) -> DecimalType | None:
    """The decimal type of ``node`` (None: another type, or not known), its children made
    explicit first; inner queries (done already) are not entered."""
    if isinstance(node, exp.Subquery | exp.Select | exp.SetOperation):
        return None
    for child in list(node.iter_expressions()):
        _type(child, types)
    return _mark(node, _made_explicit(node, types))


def _made_explicit(node: exp.Expr, types: _Types) -> DecimalType | None:
    if isinstance(node, exp.Literal):
        return literal_type(node)
    if isinstance(node, exp.Column):
        return types.of(node.name)
    if isinstance(node, exp.Paren | exp.Neg | exp.Alias | exp.Min | exp.Max):
        return _typed(node.this)
    if isinstance(node, exp.Sum):
        inner = _typed(node.this)
        return DecimalType(MAX_PRECISION, inner.scale) if inner and not inner.literal else None
    if isinstance(node, exp.Cast):
        return _cast_type(node)
    if isinstance(node, exp.Add | exp.Sub | exp.Mul):
        return _arithmetic_node(node)
    if isinstance(node, exp.Div):
        _division(node)
        return None
    if isinstance(node, exp.Avg):
        _average(node)
        return None
    if isinstance(node, exp.Case | exp.If | exp.Coalesce):
        return _conditional(node)
    return None


def _typed(node: exp.Expr | None) -> DecimalType | None:
    """The type :func:`_made_explicit` found for ``node`` (kept on the node)."""
    if node is None:
        return None
    found: DecimalType | None = node.meta.get("decimal") if node.meta else None
    return found


def _mark(node: exp.Expr, kind: DecimalType | None) -> DecimalType | None:
    if kind is not None:
        node.meta["decimal"] = kind
    return kind


def _cast_type(node: exp.Cast) -> DecimalType | None:
    target = node.to
    if not target.is_type(exp.DataType.Type.DECIMAL):
        return None
    params = [p.this for p in target.expressions if isinstance(p, exp.DataTypeParam)]
    if not all(isinstance(p, exp.Literal) and str(p.this).isdigit() for p in params):
        return None
    numbers = [int(p.this) for p in params]
    if not numbers:
        return DecimalType(*DEFAULT_DECIMAL)
    return DecimalType(numbers[0], numbers[1] if len(numbers) > 1 else 0)


def _arithmetic_node(node: exp.Binary) -> DecimalType | None:
    left, right = _typed(node.left), _typed(node.right)
    if left is None or right is None or (left.literal and right.literal):
        return None
    a = _arithmetic(left) if left.literal else left
    b = _arithmetic(right) if right.literal else right
    for side, kind in ((node.left, left), (node.right, right)):
        if kind.literal:  # Daft takes it as DECIMAL(20, 0): as narrow as its digits instead
            side.replace(exp.Cast(this=side.copy(), to=DecimalType(kind.precision, 0).sql()))
    result = multiplied(a, b) if isinstance(node, exp.Mul) else added(a, b)
    if result is None:
        return None
    cast = exp.Cast(this=exp.Paren(this=node.copy()), to=result.sql())
    node.replace(cast)
    return _mark(cast, result)


def _division(node: exp.Div) -> None:
    """A quotient of decimals is DuckDB's ``DOUBLE`` (its operands as doubles)."""
    left, right = _typed(node.left), _typed(node.right)
    if (left is None or left.literal) and (right is None or right.literal):
        return None
    if left is None and not _numeric_literal(node.left):
        return None
    if right is None and not _numeric_literal(node.right):
        return None
    for side in (node.left, node.right):
        side.replace(exp.Cast(this=side.copy(), to=exp.DataType.build("DOUBLE")))
    return None


def _average(node: exp.Avg) -> None:
    """DuckDB averages a decimal as ``DOUBLE`` (Daft: as a decimal of another scale)."""
    inner = _typed(node.this)
    if inner is not None and not inner.literal:
        node.this.replace(exp.Cast(this=node.this.copy(), to=exp.DataType.build("DOUBLE")))


def _numeric_literal(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string


def _branches(node: exp.Expr) -> list[exp.Expr]:
    if isinstance(node, exp.Case):
        found = [i.args["true"] for i in node.args.get("ifs") or []]
        default = node.args.get("default")
        return found + ([default] if default is not None else [])
    if isinstance(node, exp.If):
        return [b for b in (node.args.get("true"), node.args.get("false")) if b is not None]
    if isinstance(node, exp.Coalesce):
        return [node.this, *node.expressions]
    return []


def _conditional(node: exp.Expr) -> DecimalType | None:
    """Branches that are decimals and integer literals (or NULL): each cast to DuckDB's
    common type, so Daft finds one."""
    branches = _branches(node)
    kinds = [_typed(b) for b in branches]
    if not any(k is not None and not k.literal for k in kinds):
        return None
    if any(k is None and not isinstance(b, exp.Null) for k, b in zip(kinds, branches, strict=True)):
        return None
    result = common([k for k in kinds if k is not None])
    for branch, kind in zip(branches, kinds, strict=True):
        if kind is not None and kind != result:
            cast = exp.Cast(this=branch.copy(), to=result.sql())
            _mark(cast, result)
            branch.replace(cast)
    return result


# An inner value compared with an outer one: which aggregate of the inner values decides.
_DECIDED_BY: dict[type[exp.Expr], tuple[type[exp.Func], ...]] = {
    exp.NEQ: (exp.Min, exp.Max),
    exp.LT: (exp.Min,),
    exp.LTE: (exp.Min,),
    exp.GT: (exp.Max,),
    exp.GTE: (exp.Max,),
}
# The same comparison with its sides swapped.
_FLIPPED: dict[type[exp.Expr], type[exp.Expr]] = {
    exp.NEQ: exp.NEQ,
    exp.LT: exp.GT,
    exp.LTE: exp.GTE,
    exp.GT: exp.LT,
    exp.GTE: exp.LTE,
}


def exists_as_aggregates(tree: exp.Expr, schemas: Mapping[str, pa.Schema]) -> exp.Expr:
    """``tree`` with each correlated ``EXISTS`` that compares one inner value with an outer
    one other than by equality written as correlated aggregates (see the module)."""
    tree = tree.copy()
    for node in list(tree.find_all(exp.Exists)):
        written = _as_aggregates(node, schemas)
        if written is not None:
            node.replace(written)
    return tree


def _inner_sources(select: exp.Select, schemas: Mapping[str, pa.Schema]) -> dict[str, set[str]]:
    """The subquery's tables by the name its columns use (alias, else name), each with its
    columns; empty when a source is not an input (a derived table: not rewritten)."""
    sources = [select.args.get("from_"), *(select.args.get("joins") or [])]
    found: dict[str, set[str]] = {}
    for source in sources:
        table = source.this if isinstance(source, exp.From | exp.Join) else None
        if not isinstance(table, exp.Table) or table.name not in schemas:
            return {}
        found[table.alias_or_name.casefold()] = {n.casefold() for n in schemas[table.name].names}
    return found


def _sides(node: exp.Expr, inner: dict[str, set[str]]) -> set[str]:
    """Which scopes the columns of ``node`` belong to: "inner", "outer" (an unqualified name
    is the subquery's when one of its tables has it, as SQL resolves it)."""
    found = set()
    for column in node.find_all(exp.Column):
        table = column.table.casefold()
        if table:
            found.add("inner" if table in inner else "outer")
        else:
            mine = any(column.name.casefold() in names for names in inner.values())
            found.add("inner" if mine else "outer")
    return found


_Compared = tuple[exp.Expr, type[exp.Expr], exp.Expr]


def _split(
    condition: exp.Expr, inner: dict[str, set[str]]
) -> tuple[list[exp.Expr], list[_Compared]] | None:
    """The subquery's conjuncts Daft takes as they are (inner ones, correlated equalities),
    and its other correlated comparisons as (inner value, comparison, outer value)."""
    kept: list[exp.Expr] = []
    compared: list[_Compared] = []
    for conjunct in condition.flatten() if isinstance(condition, exp.And) else [condition]:
        if conjunct.find(exp.Select) is not None:
            return None
        if _sides(conjunct, inner) <= {"inner"}:
            kept.append(conjunct)
            continue
        if not isinstance(conjunct, exp.EQ | exp.NEQ | exp.LT | exp.LTE | exp.GT | exp.GTE):
            return None
        left, right = _sides(conjunct.left, inner), _sides(conjunct.right, inner)
        kind: type[exp.Expr] = type(conjunct)
        if left == {"inner"} and right == {"outer"}:
            value, outer = conjunct.left, conjunct.right
        elif left == {"outer"} and right == {"inner"}:
            value, outer, kind = conjunct.right, conjunct.left, _FLIPPED.get(kind, kind)
        else:
            return None
        if kind is exp.EQ:
            kept.append(conjunct)  # a correlation Daft decorrelates itself
        else:
            compared.append((value, kind, outer))
    return kept, compared


def _as_aggregates(node: exp.Exists, schemas: Mapping[str, pa.Schema]) -> exp.Expr | None:
    select = node.this
    if not isinstance(select, exp.Select) or select.args.get("where") is None:
        return None
    if any(select.args.get(k) for k in ("group", "having", "limit", "offset", "qualify", "with_")):
        return None
    inner = _inner_sources(select, schemas)
    split = _split(select.args["where"].this, inner) if inner else None
    if split is None or len(split[1]) != 1:
        return None
    kept, [(value, kind, outer)] = split
    tests: list[exp.Expr] = []
    for aggregate in _DECIDED_BY[kind]:
        scalar = select.copy()
        scalar.set("expressions", [aggregate(this=value.copy())])
        scalar.set("distinct", None)
        scalar.set("where", exp.Where(this=exp.and_(*(c.copy() for c in kept))) if kept else None)
        tests.append(kind(this=exp.Subquery(this=scalar), expression=outer.copy()))
    decided = tests[0] if len(tests) == 1 else exp.Or(this=tests[0], expression=tests[1])
    return exp.Coalesce(this=exp.Paren(this=decided), expressions=[exp.false()])
