"""`serve deploy deployments/serve_config.yaml` on a multi-node Ray cluster started by `ray start
--head` and two `ray start --address`, the way `cluster.yaml` and the docker image run the
platform (the suite's cluster, tests/e2e/cluster.py, deploys it)."""

from __future__ import annotations

import json

import httpx
import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.e2e.cluster import WORKER_NODES, RayCluster


@pytest.mark.slow
def test_serve_deploy_runs_every_application(cluster: RayCluster) -> None:
    config = yaml.safe_load((REPO_ROOT / "deployments/serve_config.yaml").read_text())
    nodes = cluster.nodes()
    assert len(nodes) == WORKER_NODES + 1
    assert len([n for n in nodes if not n["is_head_node"]]) == WORKER_NODES

    expected = {app["name"] for app in config["applications"]}
    statuses = cluster.serve_status()
    assert {n: statuses.get(n) for n in expected} == dict.fromkeys(expected, "RUNNING")

    ready = httpx.get(f"{cluster.api_url}/readyz", timeout=10)
    assert ready.status_code == 200, json.dumps(ready.json(), indent=2)
