"""deployments/rayservice.yaml against the KubeRay RayService CRD's OpenAPI schema kept in
tests/schemas/ (scripts/kuberay-schema extracts it), with the API server's strict field
validation (an unknown field is an error, as `kubectl apply` reports it), and against the
repository: its serveConfigV2 is deployments/serve_config.yaml, its settings are real."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray
import yaml

from rivergen.settings import Settings
from tests.unit.test_docs import setting_variables

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "deployments" / "rayservice.yaml"
SCHEMAS = ROOT / "tests" / "schemas"
KUBERAY = "v1.5.0"
HA_VARS = ("RAY_SERVE_ENABLE_HA_PROXY", "RAY_SERVE_THROUGHPUT_OPTIMIZED")
SECRET_SETTINGS = (
    "RIVERGEN_POSTGRES__DSN",
    "RIVERGEN_POSTGRES__MIGRATE_DSN",
    "RIVERGEN_REDIS_APP__URL",
    "RIVERGEN_REDIS_SOCKET__URL",
    "RIVERGEN_S3__ACCESS_KEY_ID",
    "RIVERGEN_S3__SECRET_ACCESS_KEY",
    "RIVERGEN_AUTH__JWT_PRIVATE_KEY",
)


def documents() -> dict[str, dict[str, Any]]:
    """The manifest's documents by kind."""
    docs = [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc]
    return {doc["kind"]: doc for doc in docs}


def rayservice() -> dict[str, Any]:
    return documents()["RayService"]


def strict(schema: Any) -> Any:
    """The schema as the API server applies it with strict field validation: an object that
    lists its properties accepts no others, unless it preserves unknown fields."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / f"kuberay-{KUBERAY}-rayservice.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    cls.check_schema(schema)
    return cls(strict(schema))  # type: ignore[no-any-return]


def errors(manifest: dict[str, Any]) -> list[str]:
    found = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator().iter_errors(manifest)
    ]
    # ObjectMeta is validated by the API server itself, not by the CRD's schema.
    if not isinstance(manifest.get("metadata", {}).get("name"), str):
        found.append("metadata/name: required")
    return found


def containers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Ray container (head and workers) of the RayService, by group."""
    cluster = spec["rayClusterConfig"]
    for container in cluster["headGroupSpec"]["template"]["spec"]["containers"]:
        yield "head", container
    for group in cluster["workerGroupSpecs"]:
        for container in group["template"]["spec"]["containers"]:
            yield group["groupName"], container


# (a) the schema and the manifest


def test_provenance_is_recorded_beside_the_schema() -> None:
    provenance = json.loads((SCHEMAS / f"kuberay-{KUBERAY}-rayservice.provenance.json").read_text())
    assert provenance["module"] == "github.com/ray-project/kuberay/ray-operator"
    assert provenance["version"] == KUBERAY
    assert provenance["source_file"] == "config/crd/bases/ray.io_rayservices.yaml"
    assert len(provenance["source_sha256"]) == 64
    assert "Apache-2.0" in provenance["licence"]
    assert "Apache License, Version 2.0" in (SCHEMAS / "NOTICE").read_text()
    schema = validator().schema
    assert "serveConfigV2" in schema["properties"]["spec"]["properties"]


def test_rayservice_passes_the_crd_schema() -> None:
    service = rayservice()
    assert service["apiVersion"] == "ray.io/v1"
    assert errors(service) == []


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value

    return mutate


def _rename(path: str, old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in path.split("."):
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[new] = node.pop(old)

    return mutate


def _drop(path: str, key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        for part in path.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[key]

    return mutate


WORKERS = "spec.rayClusterConfig.workerGroupSpecs.0"
HEAD_CONTAINER = "spec.rayClusterConfig.headGroupSpec.template.spec.containers.0"


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (_rename(WORKERS, "maxReplicas", "maxReplica"), "workerGroupSpecs/0"),
        (_set(f"{WORKERS}.replicas", "one"), "workerGroupSpecs/0/replicas"),
        (_set("spec.serveConfigV2", {"applications": []}), "spec/serveConfigV2"),
        (_drop(f"{WORKERS}.template.spec.containers.0", "name"), "containers/0"),
        (_rename(HEAD_CONTAINER, "envFrom", "envfrom"), "containers/0"),
        (_set(f"{HEAD_CONTAINER}.resources.limits.cpu", "four"), "limits/cpu"),
        (_rename("spec.rayClusterConfig", "enableInTreeAutoscaling", "autoscaling"),
         "rayClusterConfig"),
    ],
    ids=["misspelled", "wrong-type", "config-not-text", "no-name", "unknown-field",
         "bad-quantity", "unknown-option"],
)  # fmt: skip
def test_a_broken_manifest_fails_validation(
    mutate: Callable[[dict[str, Any]], None], where: str
) -> None:
    broken = copy.deepcopy(rayservice())
    mutate(broken)
    found = errors(broken)
    assert found, "the broken manifest passed"
    assert any(where in error for error in found), found


# (b) the manifest against the repository


def test_serve_config_v2_is_serve_config_yaml() -> None:
    embedded = yaml.safe_load(rayservice()["spec"]["serveConfigV2"])
    assert embedded == yaml.safe_load((ROOT / "deployments" / "serve_config.yaml").read_text())


def test_ray_version_is_the_platforms() -> None:
    assert rayservice()["spec"]["rayClusterConfig"]["rayVersion"] == ray.__version__


def test_every_ray_container_runs_the_platform_image_with_token_auth_and_settings() -> None:
    spec = rayservice()["spec"]
    config_map = documents()["ConfigMap"]
    found = list(containers(spec))
    assert {group for group, _ in found} >= {"head", "workers"}
    assert len({container["image"] for _, container in found}) == 1
    for group, container in found:
        env = {item["name"]: item for item in container["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token", group
        token = env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert token["name"] and token["key"], group
        assert "value" not in env["RAY_AUTH_TOKEN"], group
        sources = container["envFrom"]
        assert {"name": config_map["metadata"]["name"]} in [s.get("configMapRef") for s in sources]
        assert any("secretRef" in source for source in sources), group
        resources = container["resources"]
        assert resources["requests"]["cpu"] and resources["limits"]["memory"], group


def test_migrations_run_before_the_head_starts() -> None:
    head = rayservice()["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]
    (init,) = head["initContainers"]
    assert init["command"] == ["rivergen", "migrate"]
    assert init["image"] == head["containers"][0]["image"]
    assert init["envFrom"] == head["containers"][0]["envFrom"]


def test_autoscaling_bounds() -> None:
    cluster = rayservice()["spec"]["rayClusterConfig"]
    assert cluster["enableInTreeAutoscaling"] is True
    for group in cluster["workerGroupSpecs"]:
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]


def test_config_map_settings_are_real_and_serve_runs_ha_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = documents()["ConfigMap"]["data"]
    assert {var: data.get(var) for var in HA_VARS} == dict.fromkeys(HA_VARS, "1")
    settings = {k: v for k, v in data.items() if k.startswith("RIVERGEN_")}
    # Settings ignore unknown variables: a misspelled one would silently be a default.
    assert sorted(set(settings) - set(setting_variables())) == []
    assert sorted(set(SECRET_SETTINGS) - set(setting_variables())) == []
    assert not set(settings) & set(SECRET_SETTINGS), "secrets belong in the Secret"
    for name, value in {**settings, **dict.fromkeys(SECRET_SETTINGS, "x")}.items():
        monkeypatch.setenv(name, value)
    loaded = Settings()
    assert loaded.environment == "production"
    assert loaded.s3.bucket == data["RIVERGEN_S3__BUCKET"]
