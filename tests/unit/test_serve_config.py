"""deployments/serve_config.yaml is what `serve deploy` accepts, and matches the code."""

from __future__ import annotations

import importlib
from typing import Any

import yaml
from ray.serve.schema import ServeDeploySchema

from tests.conftest import REPO_ROOT


def load() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(
        (REPO_ROOT / "deployments/serve_config.yaml").read_text()
    )
    return config


def test_serve_config_passes_serve_schema() -> None:
    schema = ServeDeploySchema.model_validate(load())
    assert [app.name for app in schema.applications] == [
        "rivergen",
        "rivergen-storage",
        "rivergen-sockets",
        "rivergen-events",
    ]


def test_storage_orchestration_has_its_own_route_prefix_and_autoscales() -> None:
    from deployments.storage import DEPLOYMENT_NAME, ROUTE_PREFIX

    apps = {app["name"]: app for app in load()["applications"]}
    storage = apps["rivergen-storage"]
    assert storage["route_prefix"] == ROUTE_PREFIX == "/api/v1/storage"
    assert storage["import_path"] == "deployments.storage:app"
    (deployment,) = storage["deployments"]
    assert deployment["name"] == DEPLOYMENT_NAME
    scaling = deployment["autoscaling_config"]
    assert scaling["min_replicas"] >= 1 and scaling["max_replicas"] > scaling["min_replicas"]
    assert deployment["ray_actor_options"]["num_cpus"] < 1
    # Serve matches the longest prefix: no other application may claim the storage paths.
    others = [a["route_prefix"] for a in apps.values() if a["name"] != "rivergen-storage"]
    assert ROUTE_PREFIX not in others


def test_the_socket_cluster_has_four_replicas_under_its_own_prefix() -> None:
    from deployments.sockets import DEPLOYMENT_NAME, ROUTE_PREFIX
    from rivergen.settings import SocketSettings

    apps = {app["name"]: app for app in load()["applications"]}
    sockets = apps["rivergen-sockets"]
    assert sockets["route_prefix"] == ROUTE_PREFIX == "/socket.io"
    assert sockets["import_path"] == "deployments.sockets:app"
    (deployment,) = sockets["deployments"]
    assert deployment["name"] == DEPLOYMENT_NAME
    defaults = SocketSettings()
    assert deployment["num_replicas"] == defaults.num_replicas == 4
    # Each open socket is an ongoing request: Serve's default of 5 would cap a replica at 5.
    assert deployment["max_ongoing_requests"] == defaults.max_ongoing_requests >= 1000
    assert deployment["ray_actor_options"]["num_cpus"] == defaults.replica_num_cpus <= 0.1
    others = [a["route_prefix"] for a in apps.values() if a["name"] != "rivergen-sockets"]
    assert ROUTE_PREFIX not in others


def test_the_upload_sweeper_runs_with_the_event_workers() -> None:
    events = {app["name"]: app for app in load()["applications"]}["rivergen-events"]
    assert "upload-sweeper" in {d["name"] for d in events["deployments"]}


def test_the_notification_bridge_runs_with_the_event_workers() -> None:
    events = {app["name"]: app for app in load()["applications"]}["rivergen-events"]
    bridge = {d["name"]: d for d in events["deployments"]}["notification-bridge"]
    assert bridge["num_replicas"] == 1 and bridge["ray_actor_options"]["num_cpus"] < 1


def test_the_gateway_autoscales() -> None:
    gateway = load()["applications"][0]["deployments"][0]
    assert gateway["name"] == "gateway"
    scaling = gateway["autoscaling_config"]
    assert scaling["min_replicas"] >= 1 and scaling["max_replicas"] > scaling["min_replicas"]


def graph(application: Any) -> set[str]:
    """The names of an application's deployments: its ingress and every deployment bound into
    it, however deep."""
    bound = application._bound_deployment
    names = {bound.name}
    for arg in bound.init_args:
        if hasattr(arg, "_bound_deployment"):
            names |= graph(arg)
    return names


def test_every_deployment_in_the_config_exists_in_its_application() -> None:
    for app in load()["applications"]:
        module_name, attr = app["import_path"].split(":")
        application = getattr(importlib.import_module(module_name), attr)
        names = graph(application)
        for deployment in app["deployments"]:
            assert deployment["name"] in names
            assert deployment["ray_actor_options"]["num_cpus"] < 1
        # ...and every deployment of the application is in the config.
        assert names == {d["name"] for d in app["deployments"]}, app["name"]


def _llm_application(path: str) -> dict[str, Any]:
    """The `llm` application, commented out in ``path``, as it reads once uncommented."""
    text = (REPO_ROOT / path).read_text()
    start = text.index("# --- llm:")
    end = text.index("# --- end llm")
    lines = [line.strip() for line in text[start:end].splitlines()]
    body = [
        line[2:] if line.startswith("#  ") else line[1:]
        for line in lines
        if line.startswith(("#  ", "#    "))
    ]
    [application] = yaml.safe_load("\n".join(body))
    assert isinstance(application, dict)
    return application


def test_the_in_cluster_model_is_a_serve_llm_application_off_by_default() -> None:
    from urllib.parse import urlparse

    from rivergen.settings import ClusterLLMSettings

    settings = ClusterLLMSettings()
    assert not settings.enabled
    config = load()
    assert "llm" not in [app["name"] for app in config["applications"]]
    application = _llm_application("deployments/serve_config.yaml")
    # The same block in the RayService manifest's serveConfigV2.
    assert _llm_application("deployments/rayservice.yaml") == application
    schema = ServeDeploySchema.model_validate(
        {**config, "applications": [*config["applications"], application]}
    )
    llm = schema.applications[-1]
    assert llm.name == "llm" and llm.import_path == "ray.serve.llm:build_openai_app"
    # The setting points the provider at this application's route, and at its model.
    assert urlparse(settings.base_url).path == f"{llm.route_prefix}/v1"
    [model] = application["args"]["llm_configs"]
    assert model["model_loading_config"]["model_id"] == settings.model
