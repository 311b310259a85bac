"""Governance: the workspace's policies (row filters, masks, query limits, access), evaluated
and applied to every path that returns data."""

from rivergen.services.governance.evaluation import (
    REDACTED,
    apply_to_table,
    changes_data,
    check_columns,
    govern,
    inherit,
    query_columns,
)
from rivergen.services.governance.keys import hash_key
from rivergen.services.governance.schemas import (
    Governed,
    Policy,
    PolicyCreate,
    PolicyEvaluate,
    PolicyPage,
    PolicyUpdate,
)
from rivergen.services.governance.service import GovernanceService, changes_export, role_of

__all__ = [
    "REDACTED",
    "GovernanceService",
    "Governed",
    "Policy",
    "PolicyCreate",
    "PolicyEvaluate",
    "PolicyPage",
    "PolicyUpdate",
    "apply_to_table",
    "changes_data",
    "changes_export",
    "check_columns",
    "govern",
    "hash_key",
    "inherit",
    "query_columns",
    "role_of",
]
