"""The Governance agent (GA): sensitive-data detection on datasets, column tags, masking
proposals and their approval, and ``governance.alert`` events."""

from rivergen.agents.governance_agent.ports import SensitiveScanner
from rivergen.agents.governance_agent.schemas import (
    ColumnTag,
    Proposal,
    ProposalDecision,
    ProposalPage,
    ScanReport,
    ScanRequest,
    ScanSample,
)
from rivergen.agents.governance_agent.service import GovernanceAgent

__all__ = [
    "ColumnTag",
    "GovernanceAgent",
    "Proposal",
    "ProposalDecision",
    "ProposalPage",
    "ScanReport",
    "ScanRequest",
    "ScanSample",
    "SensitiveScanner",
]
