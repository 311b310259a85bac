"""The chart an answer suggests, from its columns' types: a single number is a `number`, one
date or time and one number a `line`, one category and one number a `bar`, anything else a
`table`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from rivergen.engine.spec import type_class

ChartKind = Literal["number", "bar", "line", "table"]
# Numbers that name a period (`YEAR(orderDate) AS year`): a line's axis, not a quantity.
_PERIOD_NAMES = frozenset({"year", "month", "quarter", "week", "day", "date"})


class Chart(BaseModel):
    """How to draw an answer: `kind`, and which column is the axis (`x`) and the value (`y`)."""

    kind: ChartKind
    x: str | None = Field(None, description="The category or time column (bar, line).")
    y: str | None = Field(None, description="The number drawn (number, bar, line).")


def suggest_chart(columns: list[str], types: list[str]) -> Chart:
    """The chart for an answer of ``columns`` with these Arrow ``types`` (same order; none
    known: a table)."""
    if len(types) != len(columns) or not columns:
        return Chart(kind="table")
    kinds = [type_class(t) for t in types]
    if kinds == ["numeric"]:
        return Chart(kind="number", y=columns[0])
    if len(columns) != 2 or "numeric" not in kinds:
        return Chart(kind="table")
    if kinds == ["numeric", "numeric"]:
        periods = [i for i, c in enumerate(columns) if c.casefold() in _PERIOD_NAMES]
        if len(periods) != 1:
            return Chart(kind="table")
        x = periods[0]
        return Chart(kind="line", x=columns[x], y=columns[1 - x])
    y = kinds.index("numeric")
    x = 1 - y
    if kinds[x] == "temporal":
        return Chart(kind="line", x=columns[x], y=columns[y])
    if kinds[x] in ("string", "boolean"):
        return Chart(kind="bar", x=columns[x], y=columns[y])
    return Chart(kind="table")
