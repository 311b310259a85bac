"""The Governance agent (GA): finds sensitive columns in a dataset, tags them, raises an alert
when people below admin see them unmasked, and proposes masking policies that an admin approves
(the policy is created through the Governance service) or rejects.

A scan reads the version's raw values (detection must see what policies would hide) in a Ray
task, and only its findings (column, kind, share of matching values) leave the task: no value is
stored or returned.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

from rivergen.accounts.principal import RequestContext
from rivergen.agents.governance_agent import store
from rivergen.agents.governance_agent.ports import SensitiveScanner
from rivergen.agents.governance_agent.schemas import (
    ColumnTag,
    Proposal,
    ProposalDecision,
    ProposalPage,
    ProposalState,
    ScanReport,
    ScanRequest,
)
from rivergen.datasets import DatasetService
from rivergen.db import Database
from rivergen.errors import Conflict, NotFound
from rivergen.events import Event, Topic, add_to_outbox
from rivergen.notifications.events import GOVERNANCE_ALERT
from rivergen.pagination import decode_cursor, encode_cursor
from rivergen.services.governance import GovernanceService, PolicyCreate
from rivergen.services.governance.detection import ColumnFinding, SensitiveKind
from rivergen.services.governance.schemas import MaskMethod, MaskRule, RoleName

# Roles a proposed mask covers: admins and owners keep the raw values they govern.
MASKED_ROLES: tuple[RoleName, ...] = ("editor", "viewer")

# What each kind is masked with: the last 4 characters where people recognize a value by them
# (cards, accounts, phones), a hash where equal values must still join (emails), else redacted.
MASK_OF: dict[SensitiveKind, MaskMethod] = {
    "card_number": "partial",
    "iban": "partial",
    "phone": "partial",
    "email": "hash",
    "national_id": "redact",
    "street_address": "redact",
}

PROPOSAL_PRIORITY = 50


def proposal_not_found(proposal: UUID) -> NotFound:
    return NotFound(f"proposal {proposal} not found", code="proposal_not_found")


class GovernanceAgent:
    def __init__(
        self,
        db: Database,
        datasets: DatasetService,
        governance: GovernanceService,
        scanner: SensitiveScanner,
    ) -> None:
        self._db = db
        self._datasets = datasets
        self._governance = governance
        self._scanner = scanner

    async def scan(self, context: RequestContext, request: ScanRequest) -> ScanReport:
        """Detect sensitive columns in a sample of the dataset's current version, record them
        on its columns, propose a mask for each one people below admin see raw (one pending
        proposal per column at most), and raise ``governance.alert`` when there are any."""
        workspace = context.require_workspace()
        dataset = request.dataset_id
        version, key = await self._datasets.version_key(context, dataset, None)
        sample = await self._scanner.scan(key, request.sample_size, request.threshold)
        tags = await self._exposure(workspace, dataset, sample.findings)
        exposed = [tag for tag in tags if tag.exposed_to]
        async with self._db.transaction(str(workspace)) as conn:
            await store.tag_columns(conn, dataset, workspace, version, sample.findings)
            proposals = []
            for tag in exposed:
                row = await store.insert_proposal(
                    conn,
                    uuid.uuid4(),
                    workspace,
                    dataset,
                    tag.column,
                    tag.kind,
                    _masking_policy(dataset, tag).model_dump(mode="json"),
                    context.actor,
                )
                if row is not None:
                    proposals.append(_proposal(row))
            if exposed:
                await add_to_outbox(
                    conn,
                    Topic.GOVERNANCE_ALERTS,
                    Event(
                        type=GOVERNANCE_ALERT,
                        workspace_id=workspace,
                        actor=context.actor,
                        data=_alert(dataset, version, exposed, proposals),
                    ),
                )
        return ScanReport(
            dataset_id=dataset,
            version=version,
            sampled_rows=sample.sampled_rows,
            columns=tags,
            proposals=proposals,
            alerted=bool(exposed),
        )

    async def _exposure(
        self, workspace: UUID, dataset: UUID, findings: list[ColumnFinding]
    ) -> list[ColumnTag]:
        if not findings:
            return []
        by_role = await self._governance.governed_for_roles(workspace, MASKED_ROLES, [dataset])
        shown = {role: by_role[role][dataset] for role in MASKED_ROLES}
        return [
            ColumnTag(
                **finding.model_dump(),
                exposed_to=[
                    role
                    for role, g in shown.items()
                    if not g.denied
                    and finding.column not in g.masked
                    and finding.column not in g.denied_columns
                ],
            )
            for finding in findings
        ]

    async def list_proposals(
        self,
        context: RequestContext,
        state: ProposalState | None,
        dataset: UUID | None,
        limit: int,
        cursor: str | None,
    ) -> ProposalPage:
        after = decode_cursor(cursor)
        async with self._db.transaction(str(context.require_workspace())) as conn:
            rows = await store.page_proposals(conn, state, dataset, after, limit)
        return ProposalPage(
            items=[_proposal(r) for r in rows[:limit]],
            next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )

    async def get_proposal(self, context: RequestContext, proposal: UUID) -> Proposal:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            row = await store.get_proposal(conn, proposal)
        if row is None:
            raise proposal_not_found(proposal)
        return _proposal(row)

    async def approve(
        self, context: RequestContext, proposal: UUID, decision: ProposalDecision
    ) -> Proposal:
        """Create the proposed policy (checked like any new policy: 422 if its column is gone)
        and mark the proposal approved; 409 ``proposal_decided`` if it was decided already."""
        pending = _require_pending(await self.get_proposal(context, proposal))
        policy = await self._governance.create(context, pending.policy)
        async with self._db.transaction(str(context.require_workspace())) as conn:
            row = await store.decide(
                conn, proposal, "approved", context.actor, decision.reason, policy.id
            )
        if row is None:  # decided by someone else meanwhile: keep one outcome
            await self._governance.delete(context, policy.id)
            _require_pending(await self.get_proposal(context, proposal))
        return _proposal(row)

    async def reject(
        self, context: RequestContext, proposal: UUID, decision: ProposalDecision
    ) -> Proposal:
        """Mark the proposal rejected (no policy is created); 409 ``proposal_decided`` if it
        was decided already."""
        async with self._db.transaction(str(context.require_workspace())) as conn:
            current = await store.get_proposal(conn, proposal, lock=True)
            if current is None:
                raise proposal_not_found(proposal)
            _require_pending(_proposal(current))
            row = await store.decide(
                conn, proposal, "rejected", context.actor, decision.reason, None
            )
        return _proposal(row)


def _require_pending(proposal: Proposal) -> Proposal:
    if proposal.state != "pending":
        raise Conflict(
            f"proposal {proposal.id} was {proposal.state} already",
            code="proposal_decided",
            details={"state": proposal.state},
        )
    return proposal


def _masking_policy(dataset: UUID, tag: ColumnTag) -> PolicyCreate:
    method = MASK_OF[tag.kind]
    return PolicyCreate(
        name=f"Mask {tag.column} ({tag.kind.replace('_', ' ')})"[:200],
        description=(
            f"Proposed by the Governance agent: {tag.matched} of {tag.sampled} sampled values "
            f"of {tag.column!r} are {tag.kind.replace('_', ' ')}s, seen unmasked by "
            f"{' and '.join(tag.exposed_to)}."
        ),
        dataset_id=dataset,
        rule=MaskRule(columns=[tag.column], method=method),
        roles=list(MASKED_ROLES),
        priority=PROPOSAL_PRIORITY,
    )


def _alert(
    dataset: UUID, version: int, exposed: list[ColumnTag], proposals: list[Proposal]
) -> dict[str, Any]:
    names = ", ".join(f"{t.column} ({t.kind})" for t in exposed)
    return {
        "dataset_id": str(dataset),
        "version": version,
        "message": f"sensitive columns are not masked: {names}",
        "columns": [
            {"column": t.column, "kind": t.kind, "exposed_to": t.exposed_to} for t in exposed
        ],
        "proposal_ids": [str(p.id) for p in proposals],
    }


def _proposal(row: Any) -> Proposal:
    fields = dict(row)
    fields["column"] = fields.pop("column_name")
    fields["policy"] = json.loads(fields["policy"])
    return Proposal.model_validate(fields)
