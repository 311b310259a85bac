"""Policies as the API, the Planning service and the evaluation take them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from rivergen.engine.lineage import QueryLineage
from rivergen.engine.spec import Filter

RoleName = Literal["owner", "admin", "editor", "viewer"]
MaskMethod = Literal["redact", "hash", "partial"]


class RowFilterRule(BaseModel):
    """Rows a caller may see: all filters must hold."""

    type: Literal["row_filter"] = "row_filter"
    filters: list[Filter] = Field(min_length=1, max_length=20)


class MaskRule(BaseModel):
    type: Literal["mask"] = "mask"
    columns: list[str] = Field(min_length=1, max_length=200)
    method: MaskMethod = "redact"


class QueryLimitRule(BaseModel):
    type: Literal["query_limit"] = "query_limit"
    max_rows: int | None = Field(None, ge=1)
    timeout_s: float | None = Field(None, gt=0)


class AccessRule(BaseModel):
    """Deny a dataset (or some of its columns) to the roles the policy applies to."""

    type: Literal["access"] = "access"
    effect: Literal["deny"] = "deny"
    columns: list[str] | None = Field(None, description="None: the whole dataset.")


Rule = Annotated[
    RowFilterRule | MaskRule | QueryLimitRule | AccessRule, Field(discriminator="type")
]


class PolicyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    dataset_id: UUID | None = Field(None, description="None: every dataset of the workspace.")
    rule: Rule
    roles: list[RoleName] | None = Field(
        None, description="Roles the policy applies to; None: every role."
    )
    priority: int = Field(100, ge=0, le=10_000, description="Lower is evaluated first.")
    enabled: bool = True


class Policy(PolicyCreate):
    id: UUID
    workspace_id: UUID
    created_at: datetime
    updated_at: datetime
    created_by: str


class AppliedPolicy(BaseModel):
    id: UUID
    name: str
    type: str


class Governed(BaseModel):
    """What the policies make of one dataset for one role: applied to the data on every path
    (rows filtered and columns masked before anything reads them)."""

    dataset_id: UUID
    workspace_id: UUID | None = Field(
        None, description="The dataset's workspace: what keys its hash masks (never the key)."
    )
    denied: bool = False
    denied_columns: list[str] = Field(default_factory=list)
    row_filters: list[Filter] = Field(default_factory=list)
    masked: dict[str, MaskMethod] = Field(default_factory=dict)
    max_rows: int | None = None
    timeout_s: float | None = None
    blanked: list[str] = Field(
        default_factory=list,
        description="Columns of a job's result computed from values the role's masks hide: "
        "redacted whole (every value, nulls too: which rows are null would tell about the "
        "hidden values).",
    )
    derived_denied: bool = Field(
        False,
        description="The dataset derives from data the role's policies hide in a way they "
        "cannot be applied to (an aggregate over filtered rows): nothing of it is shown.",
    )
    applied: list[AppliedPolicy] = Field(default_factory=list)


class PolicyUpdate(BaseModel):
    """The fields to change (omitted ones stay); the result is checked as a whole policy."""

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    dataset_id: UUID | None = None
    rule: Rule | None = None
    roles: list[RoleName] | None = None
    priority: int | None = Field(None, ge=0, le=10_000)
    enabled: bool | None = None


class PolicyPage(BaseModel):
    items: list[Policy]
    next_cursor: str | None = None


class PolicyEvaluate(BaseModel):
    """Which policies govern a dataset for a role (default: the caller's)."""

    dataset_id: UUID
    role: RoleName | None = None


class JobLineage(BaseModel):
    """How one job made a result dataset: its inputs, the governance its submitter had over
    them (only the inputs whose data it changed), and its column lineage (None: unknown)."""

    inputs: list[UUID] = Field(default_factory=list)
    pinned: dict[UUID, Governed] = Field(default_factory=dict)
    lineage: QueryLineage | None = None
