"""The running cluster as Ray reports it: nodes and resources from the GCS, actors and tasks
from Ray's state API (``ray.util.state``, served by the dashboard), Serve applications from the
Serve controller. Every call reads live state; nothing is kept.

Ray is imported where it is used (the library also runs without it). Serve itself is not
imported: its controller is a named actor, reached by name like any other.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any, Protocol

from rivergen.agents.operations.schemas import (
    ApplicationView,
    ClusterView,
    DeploymentsView,
    DeploymentView,
    NodeView,
    ResourcesView,
    StateSummary,
)
from rivergen.errors import DependencyUnavailable

# Serve's controller actor and namespace (ray.serve._private.constants); stable since Ray 2.0.
SERVE_CONTROLLER = "SERVE_CONTROLLER_ACTOR"
SERVE_NAMESPACE = "serve"
STATE_API_TIMEOUT_S = 5
NO_STATE_API = (
    "Ray's state API is not running on this cluster (started without the dashboard): actors "
    "and tasks are not reported"
)
NO_SERVE = "Serve is not running on this cluster: no deployments to report"


class ClusterReader(Protocol):
    async def cluster(self) -> ClusterView: ...

    async def deployments(self) -> DeploymentsView: ...


class RayClusterReader:
    """The cluster this process is connected to (503 ``compute_unavailable`` if none)."""

    async def cluster(self) -> ClusterView:
        ray = _ray()
        nodes, total, available = await asyncio.to_thread(
            lambda: (ray.nodes(), ray.cluster_resources(), ray.available_resources())
        )
        views = [
            NodeView(
                node_id=n["NodeID"],
                address=n["NodeManagerAddress"],
                alive=bool(n["Alive"]),
                resources_total=dict(n.get("Resources") or {}),
            )
            for n in nodes
        ]
        notes: list[str] = []
        actors = tasks = None
        api = await asyncio.to_thread(_state_api_url, {v.node_id for v in views})
        if api is None:
            notes.append(NO_STATE_API)
        else:
            actors, tasks, heads = await asyncio.to_thread(_summaries, api)
            views = [v.model_copy(update={"is_head": v.node_id in heads}) for v in views]
        return ClusterView(
            nodes=views,
            resources=ResourcesView(total=total, available=available),
            actors=actors,
            tasks=tasks,
            notes=notes,
            read_at=datetime.now(UTC),
        )

    async def deployments(self) -> DeploymentsView:
        ray = _ray()
        try:
            controller = ray.get_actor(SERVE_CONTROLLER, namespace=SERVE_NAMESPACE)
        except ValueError:
            return DeploymentsView(
                serve_running=False, applications=[], note=NO_SERVE, read_at=datetime.now(UTC)
            )
        details: dict[str, Any] = await controller.get_serve_instance_details.remote()
        apps = [
            _application(name, app) for name, app in (details.get("applications") or {}).items()
        ]
        return DeploymentsView(serve_running=True, applications=apps, read_at=datetime.now(UTC))


def _ray() -> Any:
    import ray

    if not ray.is_initialized():
        raise DependencyUnavailable(
            "the compute cluster is not connected (Ray is not initialized in this process)",
            code="compute_unavailable",
        )
    return ray


def _state_api_url(node_ids: set[str]) -> str | None:
    """The state API server of *this* cluster, or None. Ray falls back to a default dashboard
    address when its own has none, which on a shared machine may be another cluster's: the
    answer counts only if that server lists this cluster's nodes."""
    import ray
    from ray.util import state

    try:
        url = _dashboard_url(ray.get_runtime_context().gcs_address)
        listed = state.list_nodes(
            address=url, timeout=STATE_API_TIMEOUT_S, raise_on_missing_output=False
        )
    except Exception:  # any failure to reach it means: not available
        return None
    return url if {n.node_id for n in listed} == node_ids else None


def _dashboard_url(gcs_address: str) -> str:
    from ray.dashboard.utils import ray_address_to_api_server_url

    url: str = ray_address_to_api_server_url(gcs_address)
    return url


def _summaries(url: str) -> tuple[StateSummary, StateSummary, set[str]]:
    from ray.util import state

    actors = state.summarize_actors(address=url, timeout=STATE_API_TIMEOUT_S)["cluster"]
    tasks = state.summarize_tasks(address=url, timeout=STATE_API_TIMEOUT_S)["cluster"]
    heads = {
        n.node_id
        for n in state.list_nodes(address=url, timeout=STATE_API_TIMEOUT_S)
        if n.is_head_node
    }
    return _summary(actors["summary"]), _summary(tasks["summary"]), heads


def _summary(summary: dict[str, Any]) -> StateSummary:
    by_name = {name: dict(entry.get("state_counts") or {}) for name, entry in summary.items()}
    by_state: Counter[str] = Counter()
    for counts in by_name.values():
        by_state.update(counts)
    return StateSummary(total=sum(by_state.values()), by_state=dict(by_state), by_name=by_name)


def _application(name: str, app: dict[str, Any]) -> ApplicationView:
    return ApplicationView(
        name=name,
        status=_text(app.get("status")),
        message=app.get("message") or "",
        route_prefix=app.get("route_prefix"),
        deployments=[_deployment(name, d) for d in (app.get("deployments") or {}).values()],
    )


def _deployment(application: str, details: dict[str, Any]) -> DeploymentView:
    states = Counter(_text(r.get("state")) for r in details.get("replicas") or [])
    config = details.get("deployment_config") or {}
    autoscaling = config.get("autoscaling_config") or None
    return DeploymentView(
        application=application,
        name=details["name"],
        status=_text(details.get("status")),
        message=details.get("message") or "",
        target_replicas=int(details.get("target_num_replicas") or 0),
        running_replicas=states.get("RUNNING", 0),
        replica_states=dict(states),
        min_replicas=autoscaling.get("min_replicas") if autoscaling else None,
        max_replicas=autoscaling.get("max_replicas") if autoscaling else None,
    )


def _text(value: Any) -> str:
    # Serve's schema keeps its status enums (str subclasses) in the dict it returns.
    return str(getattr(value, "value", value) or "")
