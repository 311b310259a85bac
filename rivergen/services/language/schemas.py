"""What an explanation holds."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Explanation(BaseModel):
    text: str = Field(description="The whole account, in plain language.")
    datasets: list[str] = Field(default_factory=list, description="Datasets read or changed.")
    filters: list[str] = Field(
        default_factory=list, description="Filters applied (the query's and the policies')."
    )
    policies: list[str] = Field(default_factory=list, description="Policies applied, by name.")
    masked_columns: list[str] = Field(default_factory=list)
    sql: list[str] = Field(default_factory=list, description="The SQL as run.")
    row_count: int | None = Field(None, description="Rows in the answer, if there is one.")
    not_understood: list[str] = Field(
        default_factory=list, description="What was not understood, or not done and why."
    )
