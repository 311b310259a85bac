"""The Governance agent (GA): sensitive-data detection on datasets, column tags, masking
proposals and their approval, and ``governance.alert`` events."""

from rivergen.agents.ga.ports import SensitiveScanner
from rivergen.agents.ga.schemas import (
    ColumnTag,
    Proposal,
    ProposalDecision,
    ProposalPage,
    ScanReport,
    ScanRequest,
    ScanSample,
)
from rivergen.agents.ga.service import GovernanceAgent

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
