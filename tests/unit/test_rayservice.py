"""deployments/rayservice.yaml against the KubeRay RayService CRD's OpenAPI schema kept in
tests/schemas/ (scripts/kuberay-schema extracts it), with the API server's strict field
validation (an unknown field is an error, as `kubectl apply` reports it), and against the
repository: its serveConfigV2 is deployments/serve_config.yaml, its settings are real.

Ray's token authentication is off there (KubeRay v1.5.0 sends no token), so its NetworkPolicies
are what guards the dashboard and Ray's ports: they are checked by evaluating Kubernetes'
NetworkPolicy rules for the pods KubeRay makes from the manifest and for the peers that may
knock (the operator, the cluster's own pods, a neighbour pod, a client outside)."""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
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


def documents() -> list[dict[str, Any]]:
    """The manifest's documents, in order."""
    return [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc]


def one(kind: str, docs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    (doc,) = [doc for doc in (documents() if docs is None else docs) if doc["kind"] == kind]
    return doc


def rayservice() -> dict[str, Any]:
    return one("RayService")


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
        (
            _rename("spec.rayClusterConfig", "enableInTreeAutoscaling", "autoscaling"),
            "rayClusterConfig",
        ),
    ],
    ids=[
        "misspelled",
        "wrong-type",
        "config-not-text",
        "no-name",
        "unknown-field",
        "bad-quantity",
        "unknown-option",
    ],
)
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


def test_every_ray_container_runs_the_platform_image_with_settings() -> None:
    spec = rayservice()["spec"]
    config_map = one("ConfigMap")
    found = list(containers(spec))
    assert {group for group, _ in found} >= {"head", "workers"}
    assert len({container["image"] for _, container in found}) == 1
    for group, container in found:
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
    data = one("ConfigMap")["data"]
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


# (c) Ray's token authentication is off; the network guards the Ray pods


def test_no_ray_container_runs_token_auth_the_operator_cannot_use() -> None:
    """KubeRay v1.5.0 deploys serveConfigV2 and polls Serve through the dashboard without a Ray
    token: with RAY_AUTH_MODE=token the RayService would never become Ready."""
    assert "RAY_AUTH_MODE" not in one("ConfigMap")["data"]
    for group, container in containers(rayservice()["spec"]):
        env = {item["name"]: item for item in container.get("env", [])}
        # Explicit (Ray turns token auth on when the mode is unset and it finds a token) and in
        # `env`, which KubeRay copies into the workers' wait-gcs-ready init container.
        assert env["RAY_AUTH_MODE"].get("value") == "disabled", group
        assert "RAY_AUTH_TOKEN" not in env, group


NAMESPACE = "apps"  # wherever the manifest is applied: it names no namespace
# KubeRay v1.5.0 keeps these three of its own labels whatever the pod template says
# (ray-operator controllers/ray/common/pod.go, labelPod).
KUBERAY_KEPT = ("ray.io/node-type", "ray.io/group", "ray.io/cluster")


def ray_pod_labels(
    service: str, node_type: str, group: str, template: Mapping[str, str]
) -> dict[str, str]:
    """The labels KubeRay v1.5.0 gives a Ray pod of a RayService: its own (labelPod), then the
    pod template's over them, except the three it keeps. The RayCluster is the RayService's name
    and 5 random characters (utils.GenerateRayClusterName), another at each upgrade."""
    cluster = f"{service}-x7k2p"
    labels = {
        "ray.io/is-ray-node": "yes",
        "ray.io/cluster": cluster,
        "ray.io/node-type": node_type,
        "ray.io/group": group,
        "ray.io/identifier": f"{cluster}-{node_type}",
        "app.kubernetes.io/name": "kuberay",
        "app.kubernetes.io/created-by": "kuberay-operator",
    }
    labels.update({k: v for k, v in template.items() if k not in KUBERAY_KEPT})
    return labels


def ray_pods(service: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The labels of every kind of Ray pod the RayService makes, by group."""
    name, cluster = service["metadata"]["name"], service["spec"]["rayClusterConfig"]
    head = cluster["headGroupSpec"]["template"]["metadata"]["labels"]
    pods = {"head": ray_pod_labels(name, "head", "headgroup", head)}
    for group in cluster["workerGroupSpecs"]:
        labels = group["template"]["metadata"]["labels"]
        pods[group["groupName"]] = ray_pod_labels(name, "worker", group["groupName"], labels)
    return pods


@dataclass(frozen=True)
class Source:
    """Who opens a connection: a pod (its namespace and labels) or a client outside the pods."""

    name: str
    namespace: str | None
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str = "10.244.3.17"

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace or ""}


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A LabelSelector's meaning: every matchLabels pair and every matchExpression holds."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        holds = {
            "In": key in labels and labels[key] in (values or []),
            "NotIn": key not in labels or labels[key] not in (values or []),
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not holds:
            return False
    return True


def peer_admits(peer: Mapping[str, Any], source: Source) -> bool:
    if "ipBlock" in peer:
        address = ipaddress.ip_address(source.ip)
        block = peer["ipBlock"]
        excepted = any(address in ipaddress.ip_network(e) for e in block.get("except", []))
        return address in ipaddress.ip_network(block["cidr"]) and not excepted
    if source.namespace is None:  # pod and namespace selectors select pods only
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], source.namespace_labels):
            return False
    elif source.namespace != NAMESPACE:  # a podSelector alone: the policy's namespace
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], source.labels)


def port_matches(spec: Mapping[str, Any], port: int) -> bool:
    if spec.get("protocol", "TCP") != "TCP":
        return False
    if "port" not in spec:
        return True
    first = spec["port"]
    return isinstance(first, int) and first <= port <= spec.get("endPort", first)


def rule_admits(rule: Mapping[str, Any], source: Source, port: int) -> bool:
    """An ingress rule: no `ports` is every port, no `from` is every source."""
    ports, peers = rule.get("ports") or [], rule.get("from") or []
    if ports and not any(port_matches(spec, port) for spec in ports):
        return False
    return not peers or any(peer_admits(peer, source) for peer in peers)


def policy_types(policy: Mapping[str, Any]) -> list[str]:
    spec = policy["spec"]
    return spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])


def admitted(
    policies: list[dict[str, Any]], pod: Mapping[str, str], source: Source, port: int
) -> bool:
    """Kubernetes' rule: a pod no policy selects for ingress admits every connection; a pod
    that one selects admits what some ingress rule of some policy selecting it admits."""
    isolating = [
        p
        for p in policies
        if "Ingress" in policy_types(p) and selects(p["spec"]["podSelector"], pod)
    ]
    if not isolating:
        return True
    return any(
        rule_admits(r, source, port) for p in isolating for r in p["spec"].get("ingress") or []
    )


# The shape of networking.k8s.io/v1 NetworkPolicy (the Kubernetes API reference), strict like
# the API server: an unknown field is an error. Ports are numbers here, never port names.
LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"


def _object(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_LABELS = {
    "type": "object",
    "propertyNames": {"pattern": LABEL_KEY},
    "additionalProperties": {"type": "string", "pattern": LABEL_VALUE},
}
_SELECTOR = _object(
    {
        "matchLabels": _LABELS,
        "matchExpressions": {
            "type": "array",
            "items": _object(
                {
                    "key": {"type": "string", "pattern": LABEL_KEY},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
                "key",
                "operator",
            ),
        },
    }
)
_PORT_NUMBER = {"type": "integer", "minimum": 1, "maximum": 65535}
_PEER = {
    **_object(
        {
            "podSelector": _SELECTOR,
            "namespaceSelector": _SELECTOR,
            "ipBlock": _object(
                {
                    "cidr": {"type": "string"},
                    "except": {"type": "array", "items": {"type": "string"}},
                },
                "cidr",
            ),
        }
    ),
    "minProperties": 1,
    # ipBlock stands alone in a peer.
    "not": {
        "required": ["ipBlock"],
        "anyOf": [{"required": ["podSelector"]}, {"required": ["namespaceSelector"]}],
    },
}
_PORTS = {
    "type": "array",
    "items": _object(
        {
            "protocol": {"enum": ["TCP", "UDP", "SCTP"]},
            "port": _PORT_NUMBER,
            "endPort": _PORT_NUMBER,
        }
    ),
}
NETWORK_POLICY = _object(
    {
        "apiVersion": {"const": "networking.k8s.io/v1"},
        "kind": {"const": "NetworkPolicy"},
        "metadata": _object(
            {
                "name": {"type": "string", "pattern": DNS_SUBDOMAIN},
                "namespace": {"type": "string"},
                "labels": _LABELS,
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "name",
        ),
        "spec": _object(
            {
                "podSelector": _SELECTOR,
                "policyTypes": {
                    "type": "array",
                    "items": {"enum": ["Ingress", "Egress"]},
                    "uniqueItems": True,
                },
                "ingress": {
                    "type": "array",
                    "items": _object({"from": {"type": "array", "items": _PEER}, "ports": _PORTS}),
                },
                "egress": {
                    "type": "array",
                    "items": _object({"to": {"type": "array", "items": _PEER}, "ports": _PORTS}),
                },
            },
            "podSelector",
        ),
    },
    "apiVersion",
    "kind",
    "metadata",
    "spec",
)

OPERATOR = Source(
    # As KubeRay's Helm chart labels the operator's pods, in a namespace of its own.
    "the KubeRay operator",
    "kuberay-system",
    {
        "app.kubernetes.io/name": "kuberay-operator",
        "app.kubernetes.io/instance": "kuberay-operator",
        "app.kubernetes.io/component": "kuberay-operator",
    },
)
PROMETHEUS = Source(
    "Prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus", "app": "prometheus"}
)
SERVE, DASHBOARD, AGENT, METRICS = 8000, 8265, 52365, 8080
# GCS, Ray client, a worker, a node or object manager's random port.
INTERNAL = (6379, 10001, 10002, 43157)
PORTS = (SERVE, DASHBOARD, AGENT, METRICS, *INTERNAL)


def sources(service: dict[str, Any]) -> list[tuple[Source, set[int]]]:
    """Who may knock at a Ray pod, and the ports each must reach (every other must be shut)."""
    pods = ray_pods(service)
    own = [
        (Source(f"this RayService's {group} pod", NAMESPACE, labels), set(PORTS))
        for group, labels in pods.items()
    ]
    other_cluster = ray_pod_labels("analytics", "head", "headgroup", {})
    return [
        *own,
        (OPERATOR, {SERVE, DASHBOARD, AGENT}),
        (Source("a pod labelled as the operator elsewhere", "tenant-b", OPERATOR.labels), {SERVE}),
        (
            Source("another pod of the operator's namespace", OPERATOR.namespace, {"app": "web"}),
            {SERVE},
        ),
        (PROMETHEUS, {SERVE, METRICS}),
        (Source("a Ray pod of another RayCluster here", NAMESPACE, other_cluster), {SERVE}),
        (Source("a rivergen Ray pod in another namespace", "staging", pods["head"]), {SERVE}),
        (Source("a neighbour pod", NAMESPACE, {"app": "web"}), {SERVE}),
        (Source("a pod of another namespace", "tenant-b", {"app": "web"}), {SERVE}),
        (Source("a client outside the cluster", None, ip="203.0.113.7"), {SERVE}),
    ]


def network_problems(docs: list[dict[str, Any]]) -> list[str]:
    """What is wrong with the manifest's NetworkPolicies: their shape, the default deny, and
    every (Ray pod, source, port) admitted or refused against the intent."""
    policies = [doc for doc in docs if doc["kind"] == "NetworkPolicy"]
    shape = jsonschema.Draft7Validator(NETWORK_POLICY)
    found = [
        f"{p.get('metadata', {}).get('name')}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
        for p in policies
        for e in shape.iter_errors(p)
    ]
    if found:
        return found
    pods = ray_pods(one("RayService", docs))
    for policy in policies:
        name = policy["metadata"]["name"]
        if "Egress" in policy_types(policy):
            found.append(f"{name}: restricts egress (Ray reaches Postgres, Kafka, S3)")
        if not any(selects(policy["spec"]["podSelector"], pod) for pod in pods.values()):
            found.append(f"{name}: selects none of the RayService's pods")
    if not any(
        "Ingress" in policy_types(p)
        and not p["spec"].get("ingress")
        and all(selects(p["spec"]["podSelector"], pod) for pod in pods.values())
        for p in policies
    ):
        found.append("no default-deny ingress policy selects every Ray pod")
    for group, pod in pods.items():
        for source, ports in sources(one("RayService", docs)):
            for port in PORTS:
                if admitted(policies, pod, source, port) != (port in ports):
                    verb = "admits" if port not in ports else "refuses"
                    found.append(f"{group} pod {verb} {source.name} on {port}")
    return found


def test_network_policies_guard_the_ray_pods() -> None:
    """Default deny for every Ray pod; 8265 (and the agent) only from the operator and the
    cluster's own pods; Ray's internal ports only from its own pods; Serve's 8000 open."""
    docs = documents()
    policies = [doc for doc in docs if doc["kind"] == "NetworkPolicy"]
    assert len(policies) >= 2
    assert network_problems(docs) == []


def test_only_the_operators_namespace_reaches_the_dashboard() -> None:
    """Whoever may label a pod in some namespace cannot pass for the operator: its peer is
    pinned to the operator's namespace by the name Kubernetes gives it."""
    policies = [doc for doc in documents() if doc["kind"] == "NetworkPolicy"]
    head = ray_pods(rayservice())["head"]
    assert admitted(policies, head, OPERATOR, DASHBOARD)
    assert admitted(policies, head, OPERATOR, AGENT)
    assert not admitted(policies, head, OPERATOR, 6379)
    for namespace in ("ray-system", NAMESPACE, "tenant-b"):
        impostor = Source("a pod labelled as the operator", namespace, OPERATOR.labels)
        for port in (DASHBOARD, AGENT, 6379):
            assert not admitted(policies, head, impostor, port), (namespace, port)


def test_the_operators_namespace_is_one_value() -> None:
    text = (ROOT / "deployments" / "rayservice.yaml").read_text()
    assert text.count("&operator-namespace") == 1
    peers = [
        peer
        for rule in _ingress(documents())
        for peer in rule.get("from", [])
        if peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
        == "kuberay-operator"
    ]
    assert [p["namespaceSelector"] for p in peers] == [
        {"matchLabels": {"kubernetes.io/metadata.name": OPERATOR.namespace}}
    ]


def _network_policy(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (policy,) = [d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == name]
    return policy


def _ingress(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ingress: list[dict[str, Any]] = _network_policy(docs, "rivergen-ray-ingress")["spec"]["ingress"]
    return ingress


def _open_dashboard(docs: list[dict[str, Any]]) -> None:
    _ingress(docs).append({"ports": [{"protocol": "TCP", "port": DASHBOARD}]})


def _split_operator_peer(docs: list[dict[str, Any]]) -> None:
    # Two peers instead of one: "every pod of every namespace" or "the operator".
    rule = next(r for r in _ingress(docs) if "namespaceSelector" in (r.get("from") or [{}])[0])
    (peer,) = rule["from"]
    rule["from"] = [
        {"namespaceSelector": peer["namespaceSelector"]},
        {"podSelector": peer["podSelector"]},
    ]


def _unpin_operator_namespace(docs: list[dict[str, Any]]) -> None:
    # The operator's label in any namespace (what the manifest allowed before).
    rule = next(r for r in _ingress(docs) if "namespaceSelector" in (r.get("from") or [{}])[0])
    rule["from"][0]["namespaceSelector"] = {}


def _select_by_cluster_name(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        if doc["kind"] == "NetworkPolicy":
            doc["spec"]["podSelector"] = {"matchLabels": {"ray.io/cluster": "rivergen"}}


def _drop_default_deny(docs: list[dict[str, Any]]) -> None:
    docs.remove(_network_policy(docs, "rivergen-ray-default-deny"))


def _close_serve(docs: list[dict[str, Any]]) -> None:
    _ingress(docs)[:] = [r for r in _ingress(docs) if "from" in r]


def _unquoted_yes(docs: list[dict[str, Any]]) -> None:
    _network_policy(docs, "rivergen-ray-default-deny")["spec"]["podSelector"]["matchLabels"][
        "ray.io/is-ray-node"
    ] = True


def _named_port(docs: list[dict[str, Any]]) -> None:
    _ingress(docs)[-1]["ports"][0]["port"] = "serve"


def _restrict_egress(docs: list[dict[str, Any]]) -> None:
    spec = _network_policy(docs, "rivergen-ray-default-deny")["spec"]
    spec["policyTypes"] = ["Ingress", "Egress"]


def _misspell_pod_selector(docs: list[dict[str, Any]]) -> None:
    spec = _network_policy(docs, "rivergen-ray-ingress")["spec"]
    spec["podselector"] = spec.pop("podSelector")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_open_dashboard, "admits a client outside the cluster on 8265"),
        (_split_operator_peer, "admits another pod of the operator's namespace on 8265"),
        (_unpin_operator_namespace, "admits a pod labelled as the operator elsewhere on 8265"),
        (_select_by_cluster_name, "selects none of the RayService's pods"),
        (_drop_default_deny, "no default-deny"),
        (_close_serve, "refuses a client outside the cluster on 8000"),
        (_unquoted_yes, "True is not of type 'string'"),
        (_named_port, "'serve' is not of type 'integer'"),
        (_restrict_egress, "restricts egress"),
        (_misspell_pod_selector, "'podSelector' is a required property"),
    ],
    ids=[
        "dashboard-open-to-all",
        "operator-peer-split",
        "operator-namespace-unpinned",
        "ray-io-cluster-rivergen",
        "no-default-deny",
        "serve-closed",
        "unquoted-yes",
        "named-port",
        "egress-denied",
        "misspelled-field",
    ],
)
def test_a_broken_network_policy_fails(
    mutate: Callable[[list[dict[str, Any]]], None], expected: str
) -> None:
    docs = copy.deepcopy(documents())
    mutate(docs)
    found = network_problems(docs)
    assert any(expected in problem for problem in found), found
