"""The Governance agent's requests and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from rivergen.services.governance.detection import (
    DEFAULT_SAMPLE_SIZE,
    DEFAULT_THRESHOLD,
    ColumnFinding,
    SensitiveKind,
)
from rivergen.services.governance.schemas import PolicyCreate

ProposalState = Literal["pending", "approved", "rejected"]


class ScanRequest(BaseModel):
    dataset_id: UUID
    sample_size: int = Field(
        DEFAULT_SAMPLE_SIZE, ge=10, le=100_000, description="Rows sampled (seeded, uniform)."
    )
    threshold: float = Field(
        DEFAULT_THRESHOLD,
        gt=0,
        le=1,
        description="Share of a column's sampled non-empty values that must be of one kind.",
    )


class ColumnTag(ColumnFinding):
    """A sensitive column, and whether the roles below admin see it raw."""

    exposed_to: list[str] = Field(
        description="Roles (of editor and viewer) that see its values unmasked."
    )


class Proposal(BaseModel):
    """A masking policy the agent proposes; an admin approves it (the policy is created) or
    rejects it."""

    id: UUID
    workspace_id: UUID
    dataset_id: UUID
    column: str
    kind: SensitiveKind
    policy: PolicyCreate
    state: ProposalState
    policy_id: UUID | None = Field(None, description="The policy an approval created.")
    reason: str = ""
    created_by: str
    decided_by: str | None = None
    created_at: datetime
    decided_at: datetime | None = None


class ScanReport(BaseModel):
    dataset_id: UUID
    version: int
    sampled_rows: int
    columns: list[ColumnTag] = Field(description="Columns tagged sensitive.")
    proposals: list[Proposal] = Field(description="Masking policies proposed by this scan.")
    alerted: bool = Field(description="Whether a `governance.alert` was raised.")


class ScanSample(BaseModel):
    """What the detection task found in a sample of a version."""

    sampled_rows: int
    findings: list[ColumnFinding]


class ProposalPage(BaseModel):
    items: list[Proposal]
    next_cursor: str | None = None


class ProposalDecision(BaseModel):
    reason: str = Field("", max_length=2000)
