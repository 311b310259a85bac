"""The evaluation's questions: one YAML file per dataset beside this module.

Each question has an id, the question as a user would type it, the kinds of question it is
(:data:`KINDS`), and its expected answer as SQL written by hand over the dataset's tables (by
dataset name, DuckDB's dialect, admitted by the platform's engine like any query). Optional:
``ordered`` (the order of the rows is part of the answer; expected columns named ``_order...``
are not part of the answer, they only say which rows tie in that order, so tied rows may come
in any order), ``also`` (SQL of a second reasonable reading whose answer is accepted too) and
``note``.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

HERE = Path(__file__).resolve().parent

KINDS: dict[str, str] = {
    "count": "how many rows",
    "total": "a sum",
    "group": "a measure per group",
    "average": "a mean (also 'per X' meaning over all X)",
    "minmax": "a minimum or maximum value",
    "superlative": "the thing with the most or least of something",
    "topn": "top or bottom N",
    "order": "a list in an asked order",
    "expression": "a measure computed from several columns",
    "lookup": "a value of a named thing",
    "yesno": "a yes/no column",
    "filter_category": "a filter on a text category",
    "filter_number": "a filter on a number",
    "date": "years, months, dates",
    "relative_date": "relative to the data's latest date",
    "share": "a share or percentage",
    "distinct": "distinct values or their count",
    "join": "needs two or more tables",
    "list": "a list of things",
    "misspelling": "a word misspelt",
}


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z]+-\d{3}$")
    question: str = Field(min_length=3)
    kinds: list[str] = Field(min_length=1)
    sql: str = Field(min_length=8)
    ordered: bool = False
    also: list[str] = Field(default_factory=list)
    note: str = ""

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown kinds {unknown}; known: {sorted(KINDS)}")
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"a kind is repeated in {kinds}")
        return kinds


class QuestionSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str
    questions: list[Question] = Field(min_length=1)


def load_questions(dataset: str) -> QuestionSet:
    data = yaml.safe_load((HERE / f"{dataset}.yaml").read_text(encoding="utf-8"))
    return QuestionSet.model_validate(data)
