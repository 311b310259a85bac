"""Governance: the workspace's policies (row filters, masks, query limits, access), evaluated
and applied to every path that returns data."""

from rivergen.services.governance.evaluation import (
    apply_to_table,
    changes_data,
    check_columns,
    govern,
    query_columns,
    result_governance,
)
from rivergen.services.governance.schemas import (
    Governed,
    Policy,
    PolicyCreate,
    PolicyEvaluate,
    PolicyPage,
    PolicyUpdate,
)
from rivergen.services.governance.service import GovernanceService, role_of

__all__ = [
    "GovernanceService",
    "Governed",
    "Policy",
    "PolicyCreate",
    "PolicyEvaluate",
    "PolicyPage",
    "PolicyUpdate",
    "apply_to_table",
    "changes_data",
    "check_columns",
    "govern",
    "query_columns",
    "result_governance",
    "role_of",
]
