"""The one authorization table: which role may call which route, and which agent tool.

The gateway checks it on every request; agents check it on every tool call. A route missing
from the table is refused (deny by default), and a test keeps the table and the app's routes
in step.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

Access = Literal[
    "public", "authenticated", "user", "operator", "viewer", "editor", "admin", "owner"
]


class Role(IntEnum):
    """Workspace roles, each allowed everything the ones below it are."""

    viewer = 1
    editor = 2
    admin = 3
    owner = 4


# (method, route path) -> who may call it.
#   public         anyone, no credentials
#   authenticated  any valid credentials (user token or API key), no workspace needed
#   user           a signed-in person (not an API key), no workspace needed
#   operator       a platform operator (a person, not a workspace role): the cluster as a whole
#   <role>         at least this role in the request's workspace
ROUTE_ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/healthz"): "public",
    ("GET", "/readyz"): "public",
    ("POST", "/api/v1/auth/register"): "public",
    ("POST", "/api/v1/auth/login"): "public",
    ("POST", "/api/v1/auth/refresh"): "public",
    ("POST", "/api/v1/auth/logout"): "user",
    ("GET", "/api/v1/me"): "authenticated",
    ("GET", "/api/v1/workspaces"): "user",
    ("POST", "/api/v1/workspaces"): "user",
    ("GET", "/api/v1/workspaces/{workspace_id}"): "viewer",
    ("POST", "/api/v1/workspaces/{workspace_id}/members"): "admin",
    ("GET", "/api/v1/workspaces/{workspace_id}/members"): "viewer",
    ("PATCH", "/api/v1/workspaces/{workspace_id}/members/{user_id}"): "admin",
    ("DELETE", "/api/v1/workspaces/{workspace_id}/members/{user_id}"): "admin",
    ("POST", "/api/v1/workspaces/{workspace_id}/leave"): "viewer",
    ("POST", "/api/v1/workspaces/{workspace_id}/transfer-ownership"): "owner",
    # The workspace's services and its own jobs (the cluster is the operators', below).
    ("GET", "/api/v1/workspaces/{workspace_id}/health"): "admin",
    ("PUT", "/api/v1/me/default-workspace"): "user",
    # Invitations are answered by their invitee, whatever workspace they are in.
    ("GET", "/api/v1/invitations"): "user",
    ("POST", "/api/v1/invitations/{invitation_id}/accept"): "user",
    ("POST", "/api/v1/invitations/{invitation_id}/decline"): "user",
    ("GET", "/api/v1/api-keys"): "admin",
    ("POST", "/api/v1/api-keys"): "admin",
    ("DELETE", "/api/v1/api-keys/{api_key_id}"): "admin",
    ("GET", "/api/v1/audit"): "admin",
    ("GET", "/api/v1/billing/plan"): "viewer",
    ("GET", "/api/v1/billing/usage"): "viewer",
    ("GET", "/api/v1/billing/invoices"): "viewer",
    ("POST", "/api/v1/storage/uploads"): "editor",
    ("POST", "/api/v1/storage/upload"): "editor",
    ("GET", "/api/v1/storage/uploads/{upload_id}/parts"): "editor",
    ("PUT", "/api/v1/storage/parts/{store_upload_id}/{part_number}"): "editor",
    ("POST", "/api/v1/storage/uploads/{upload_id}/complete"): "editor",
    ("DELETE", "/api/v1/storage/uploads/{upload_id}"): "editor",
    ("GET", "/api/v1/storage/files"): "viewer",
    ("GET", "/api/v1/storage/files/{file_id}"): "viewer",
    ("GET", "/api/v1/storage/files/{file_id}/content"): "viewer",
    ("DELETE", "/api/v1/storage/files/{file_id}"): "editor",
    ("GET", "/api/v1/storage/quota"): "viewer",
    ("POST", "/api/v1/datasets"): "editor",
    ("GET", "/api/v1/datasets"): "viewer",
    ("GET", "/api/v1/datasets/{dataset_id}"): "viewer",
    ("PATCH", "/api/v1/datasets/{dataset_id}"): "editor",
    ("DELETE", "/api/v1/datasets/{dataset_id}"): "editor",
    ("POST", "/api/v1/datasets/{dataset_id}/versions"): "editor",
    ("GET", "/api/v1/datasets/{dataset_id}/preview"): "viewer",
    ("GET", "/api/v1/datasets/{dataset_id}/versions/{version}/download"): "viewer",
    ("GET", "/api/v1/datasets/{dataset_id}/versions/{version}/content"): "viewer",
    ("POST", "/api/v1/datasets/{dataset_id}/profile"): "editor",
    ("GET", "/api/v1/datasets/{dataset_id}/profile"): "viewer",
    ("POST", "/api/v1/datasets/{dataset_id}/quality"): "viewer",
    ("GET", "/api/v1/catalog/search"): "viewer",
    ("POST", "/api/v1/data-sources"): "editor",
    ("GET", "/api/v1/data-sources"): "viewer",
    ("GET", "/api/v1/data-sources/{source_id}"): "viewer",
    ("DELETE", "/api/v1/data-sources/{source_id}"): "editor",
    ("POST", "/api/v1/data-sources/{source_id}/discover-schema"): "editor",
    ("POST", "/api/v1/jobs"): "editor",
    ("GET", "/api/v1/jobs"): "viewer",
    ("GET", "/api/v1/jobs/{job_id}"): "viewer",
    ("POST", "/api/v1/jobs/{job_id}/cancel"): "editor",
    # A retry is a new submission of the same job: as submitting.
    ("POST", "/api/v1/jobs/{job_id}/retry"): "editor",
    ("GET", "/api/v1/jobs/{job_id}/result"): "viewer",
    ("GET", "/api/v1/notifications"): "viewer",
    ("POST", "/api/v1/prompts/execute"): "viewer",
    ("GET", "/api/v1/prompts/conversations"): "viewer",
    ("GET", "/api/v1/prompts/conversations/{conversation_id}"): "viewer",
    ("GET", "/api/v1/prompts/executions"): "viewer",
    ("GET", "/api/v1/prompts/executions/{execution_id}"): "viewer",
    # Confirming runs writes: at least an editor, and then a role that allows every pending call.
    ("POST", "/api/v1/prompts/executions/{execution_id}/confirm"): "editor",
    # A rerun is the caller's own new execution, under its own policies: as executing.
    ("POST", "/api/v1/prompts/executions/{execution_id}/rerun"): "viewer",
    ("GET", "/api/v1/prompts/saved"): "viewer",
    ("POST", "/api/v1/prompts/saved"): "viewer",
    ("DELETE", "/api/v1/prompts/saved/{saved_id}"): "editor",
    # The semantic layer: everyone reads it (the prompts use it); editors draft, edit and
    # confirm it.
    ("GET", "/api/v1/semantic-layer"): "viewer",
    ("PUT", "/api/v1/semantic-layer"): "editor",
    ("POST", "/api/v1/semantic-layer/draft"): "editor",
    ("POST", "/api/v1/semantic-layer/confirm"): "editor",
    ("GET", "/api/v1/semantic-layer/versions"): "viewer",
    ("GET", "/api/v1/policies"): "viewer",
    ("POST", "/api/v1/policies"): "admin",
    ("POST", "/api/v1/policies/evaluate"): "viewer",
    ("GET", "/api/v1/policies/{policy_id}"): "viewer",
    ("PATCH", "/api/v1/policies/{policy_id}"): "admin",
    ("DELETE", "/api/v1/policies/{policy_id}"): "admin",
    # Analyzing keeps a decision and emits an event; simulating queues work: editors.
    ("POST", "/api/v1/decisions/analyze"): "editor",
    ("POST", "/api/v1/decisions/simulate"): "editor",
    ("GET", "/api/v1/decisions/simulations/{simulation_id}"): "viewer",
    ("GET", "/api/v1/decisions"): "viewer",
    ("GET", "/api/v1/decisions/{decision_id}"): "viewer",
    ("GET", "/api/v1/decisions/guidelines"): "viewer",
    # Guideline sets hold the hard limits every decision obeys: admins, as for policies.
    ("POST", "/api/v1/decisions/guidelines"): "admin",
    ("DELETE", "/api/v1/decisions/guidelines/{guideline_id}"): "admin",
    ("POST", "/api/v1/models/{model_id}/monitoring"): "editor",
    ("GET", "/api/v1/models/{model_id}/monitoring"): "viewer",
    # Governance agent: a scan tags columns and proposes; an approval creates a policy.
    ("POST", "/api/v1/governance/scan"): "editor",
    ("GET", "/api/v1/governance/proposals"): "viewer",
    ("POST", "/api/v1/governance/proposals/{proposal_id}/approve"): "admin",
    ("POST", "/api/v1/governance/proposals/{proposal_id}/reject"): "admin",
    # Operations agent: platform operators only (nodes, every tenant's deployments); no
    # workspace role reaches them. A workspace's own jobs are retried at /jobs/{id}/retry.
    ("GET", "/api/v1/operations/cluster"): "operator",
    ("GET", "/api/v1/operations/deployments"): "operator",
    ("POST", "/api/v1/operations/jobs/{job_id}/retry"): "operator",
    ("GET", "/api/v1/operations/health"): "operator",
    ("POST", "/api/v1/models"): "editor",
    ("GET", "/api/v1/models"): "viewer",
    ("GET", "/api/v1/models/{model_id}"): "viewer",
    ("POST", "/api/v1/models/{model_id}/deploy"): "editor",
    ("POST", "/api/v1/models/{model_id}/predict"): "viewer",
}

# Prompt Studio's tools -> the API route whose access each needs: a prompt can do no more
# than its caller's requests could.
TOOL_ROUTES: dict[str, tuple[str, str]] = {
    "search_catalog": ("GET", "/api/v1/catalog/search"),
    "describe_dataset": ("GET", "/api/v1/datasets/{dataset_id}"),
    "run_sql": ("GET", "/api/v1/datasets/{dataset_id}/preview"),
    "profile_dataset": ("POST", "/api/v1/datasets/{dataset_id}/profile"),
    "start_job": ("POST", "/api/v1/jobs"),
    "save_result": ("POST", "/api/v1/datasets"),
    "delete_dataset": ("DELETE", "/api/v1/datasets/{dataset_id}"),
    "create_policy": ("POST", "/api/v1/policies"),
}

WORKSPACE_ROLES: tuple[Access, ...] = ("viewer", "editor", "admin", "owner")


def required_access(method: str, path: str) -> Access | None:
    """Who may call ``method path`` (a route template); None: nobody (not in the table)."""
    return ROUTE_ACCESS.get((method.upper(), path))


def tool_access(tool: str) -> Access | None:
    """Who may call the agent tool ``tool``: the access of its route. None: nobody (an unknown
    tool, or a route not in the table)."""
    route = TOOL_ROUTES.get(tool)
    return ROUTE_ACCESS.get(route) if route is not None else None


def role_allows(role: Role, access: Access) -> bool:
    """Whether a member with ``role`` passes a workspace-level ``access``."""
    if access not in WORKSPACE_ROLES:
        return True
    return role >= Role[access]
