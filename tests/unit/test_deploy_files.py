"""Static checks of the deployment files: docker/ and cluster.yaml.

No Docker engine and no network: the files are parsed and checked against Ray's own cluster
schema, against the repository (every file they name exists) and against the settings that
must not regress (Serve's HAProxy flags, the dashboard on loopback, PgBouncer's pooling).
"""

from __future__ import annotations

import configparser
import copy
import json
import os
import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from rivergen.accounts.credentials import generate_private_key_pem
from rivergen.settings import Settings
from tests.unit.test_docs import setting_variables

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
HA_VARS = ("RAY_SERVE_ENABLE_HA_PROXY", "RAY_SERVE_THROUGHPUT_OPTIMIZED")
LOOPBACK_DASHBOARD = "--dashboard-host=127.0.0.1"
SCRIPT = re.compile(r"\bdocker/[\w.-]+\.(?:sh|py)\b")
RAY_SERVICES = ("ray-head", "ray-worker")


def read(relative: str) -> str:
    return (ROOT / relative).read_text()


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comment lines dropped and continuations joined."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    pairs = [line.strip().partition(" ") for line in joined.splitlines() if line.strip()]
    return [(instruction.upper(), args.strip()) for instruction, _, args in pairs]


def copy_sources(instructions: list[tuple[str, str]]) -> list[str]:
    """The build-context paths that COPY/ADD instructions read (not those of other stages)."""
    sources: list[str] = []
    for instruction, args in instructions:
        if instruction not in ("COPY", "ADD"):
            continue
        if "--from=" in args:
            continue
        words = [word for word in shlex.split(args) if not word.startswith("--")]
        if "[" in args:  # the JSON form: COPY [--chown=...] ["src", ..., "dest"]
            words = json.loads(args[args.index("[") :])
        sources += words[:-1]
    return sources


def scripts_run(text: str) -> set[str]:
    """The repository scripts that ``text`` runs, followed into those scripts."""
    found: set[str] = set()
    todo = set(SCRIPT.findall(text))
    while todo:
        script = todo.pop()
        found.add(script)
        if (ROOT / script).is_file():
            todo |= set(SCRIPT.findall(read(script))) - found
    return found


def service_text(service: dict[str, Any]) -> str:
    return json.dumps([service.get("entrypoint"), service.get("command")])


def ray_head_starts(text: str) -> list[str]:
    """Every `ray start --head` command line in ``text`` (shell continuations joined)."""
    lines = re.sub(r"\\\n", " ", text).splitlines()
    return [line for line in lines if "ray start" in line and "--head" in line]


def compose_references(compose: dict[str, Any]) -> list[Path]:
    """Every repository file that compose.yaml uses: build files, bind mounts, scripts."""
    paths: list[Path] = []
    for service in compose["services"].values():
        build = service.get("build")
        if build is not None:
            context = DOCKER / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
            paths += [context, context / (dockerfile or "Dockerfile")]
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("."):  # a bind mount, relative to the compose file
                paths.append(DOCKER / source)
        paths += [ROOT / script for script in scripts_run(service_text(service))]
    return paths


# (a) cluster.yaml against Ray's own schema, as `ray up` checks it.


def check_cluster_config(config: dict[str, Any]) -> None:
    validate_config(prepare_config(copy.deepcopy(config)))


def test_cluster_yaml_passes_ray_schema() -> None:
    check_cluster_config(load_yaml(ROOT / "cluster.yaml"))


def _rename(path: tuple[str, ...], old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def mutate(config: dict[str, Any]) -> None:
        node = config
        for key in path:
            node = node[key]
        node[new] = node.pop(old)

    return mutate


@pytest.mark.parametrize(
    ("mutate", "bad_key"),
    [
        (_rename((), "max_workers", "max_worker"), "max_worker"),
        (_rename(("docker",), "run_options", "run_option"), "run_option"),
        (
            _rename(("available_node_types", "ray.worker.default"), "max_workers", "max_worker"),
            "max_worker",
        ),
        (_rename((), "head_start_ray_commands", "head_start_commands"), "head_start_commands"),
    ],
    ids=["top-level", "docker", "node-type", "commands"],
)
def test_misspelled_cluster_key_is_rejected(
    mutate: Callable[[dict[str, Any]], None], bad_key: str
) -> None:
    config = load_yaml(ROOT / "cluster.yaml")
    mutate(config)
    with pytest.raises(Exception, match=f"{re.escape(repr(bad_key))} was unexpected"):
        check_cluster_config(config)


# (b) every file that compose.yaml and the Dockerfile name exists.


def test_compose_and_dockerfile_references_exist() -> None:
    compose = load_yaml(DOCKER / "compose.yaml")
    dockerfile = read("docker/Dockerfile")
    wanted = compose_references(compose)
    wanted += [ROOT / source for source in copy_sources(dockerfile_instructions(dockerfile))]
    wanted += [ROOT / script for script in scripts_run(dockerfile)]
    wanted.append(ROOT / "deployments" / "serve_config.yaml")  # what `serve deploy` reads
    assert [str(path.relative_to(ROOT)) for path in wanted if not path.exists()] == []


def test_every_serve_application_module_is_copied_into_the_image() -> None:
    """`serve deploy` in the image imports each application (gateway, Storage Orchestration,
    event workers) from the copied tree."""
    config = load_yaml(ROOT / "deployments" / "serve_config.yaml")
    copied = set(copy_sources(dockerfile_instructions(read("docker/Dockerfile"))))
    modules = [app["import_path"].split(":")[0] for app in config["applications"]]
    assert "deployments.storage" in modules
    assert "deployments.sockets" in modules
    for module in modules:
        path = Path(*module.split(".")).with_suffix(".py")
        assert (ROOT / path).is_file(), path
        assert path.parts[0] in copied, path


def test_scripts_run_in_the_image_are_copied_into_it() -> None:
    compose = load_yaml(DOCKER / "compose.yaml")
    dockerfile = read("docker/Dockerfile")
    copied = set(copy_sources(dockerfile_instructions(dockerfile)))
    run = scripts_run(dockerfile)
    for name in RAY_SERVICES:
        run |= scripts_run(service_text(compose["services"][name]))
    assert run, "the image runs no start script"
    assert sorted(run - copied) == []


# (c) Serve's HAProxy flags everywhere Ray starts, and the dashboard on loopback only.


def test_cluster_yaml_sets_ha_proxy_and_loopback_dashboard() -> None:
    config = load_yaml(ROOT / "cluster.yaml")
    run_options = " ".join(config["docker"]["run_options"])
    head = [c for c in config["head_start_ray_commands"] if "ray start" in c]
    worker = [c for c in config["worker_start_ray_commands"] if "ray start" in c]
    assert head and worker
    for var in HA_VARS:
        assert f"--env {var}=1" in run_options
        assert all(f"{var}=1" in command for command in head + worker)
    assert all(LOOPBACK_DASHBOARD in command for command in head)
    assert "0.0.0.0" not in json.dumps(config)


def test_dockerfile_sets_ha_proxy_and_loopback_dashboard() -> None:
    dockerfile = read("docker/Dockerfile")
    env: dict[str, str] = {}
    for instruction, args in dockerfile_instructions(dockerfile):
        if instruction == "ENV":
            env |= dict(word.split("=", 1) for word in shlex.split(args))
    assert {var: env.get(var) for var in HA_VARS} == dict.fromkeys(HA_VARS, "1")
    starts = [s for script in scripts_run(dockerfile) for s in ray_head_starts(read(script))]
    assert starts and all(LOOPBACK_DASHBOARD in start for start in starts)


def test_compose_sets_ha_proxy_and_loopback_dashboard() -> None:
    services = load_yaml(DOCKER / "compose.yaml")["services"]
    for name in RAY_SERVICES:
        env = services[name]["environment"]
        assert {var: str(env.get(var)) for var in HA_VARS} == dict.fromkeys(HA_VARS, "1"), name
    head_scripts = scripts_run(service_text(services["ray-head"]))
    starts = [s for script in head_scripts for s in ray_head_starts(read(script))]
    assert starts and all(LOOPBACK_DASHBOARD in start for start in starts)
    ports = [str(port) for service in services.values() for port in service.get("ports", [])]
    assert ports and [port for port in ports if not port.startswith("127.0.0.1:")] == []
    assert [port for port in ports if port.endswith(":8265")] == []


# (d) PgBouncer: transaction pooling, fast login retry, tolerant startup parameters.


def test_pgbouncer_config() -> None:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(DOCKER / "pgbouncer" / "pgbouncer.ini")
    settings = ini["pgbouncer"]
    assert settings["pool_mode"] == "transaction"
    assert settings["server_login_retry"] == "1"
    ignored = {p.strip() for p in settings["ignore_startup_parameters"].split(",")}
    assert {"extra_float_digits", "application_name"} <= ignored
    volumes = load_yaml(DOCKER / "compose.yaml")["services"]["pgbouncer"]["volumes"]
    assert "./pgbouncer/pgbouncer.ini:/etc/pgbouncer/pgbouncer.ini:ro" in volumes


def test_ray_token_auth_reaches_every_node_and_serve_deploy() -> None:
    """Ray 2.60 guards a head with a token; `serve deploy` sends it only with RAY_AUTH_MODE."""
    compose = load_yaml(DOCKER / "compose.yaml")
    for name in RAY_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["RAY_AUTH_MODE"] == "token" and env["RAY_AUTH_TOKEN"]
    example = read("docker/cluster-env/rivergen.env.example")
    assert "RAY_AUTH_MODE=token" in example and "RAY_AUTH_TOKEN=" in example
    cluster = load_yaml(ROOT / "cluster.yaml")
    deploy = [c for c in cluster["head_start_ray_commands"] if "serve deploy" in c]
    assert deploy and all("rivergen-env/rivergen.env" in c for c in deploy)


# (e) every platform container's environment is a valid, complete settings tree.

CONFIGURED = (
    "RIVERGEN_POSTGRES__DSN",
    "RIVERGEN_POSTGRES__MIGRATE_DSN",
    "RIVERGEN_REDIS_APP__URL",
    "RIVERGEN_REDIS_SOCKET__URL",
    "RIVERGEN_KAFKA__BOOTSTRAP_SERVERS",
    "RIVERGEN_S3__ENDPOINT_URL",
    "RIVERGEN_S3__BUCKET",
    "RIVERGEN_S3__ACCESS_KEY_ID",
    "RIVERGEN_S3__SECRET_ACCESS_KEY",
    "RIVERGEN_AUTH__JWT_PRIVATE_KEY",
)
"""What a container must set: left unset, a service would run embedded inside one container."""
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def interpolate(value: str, exported: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}` with ``exported`` as the
    shell's environment (a required variable missing is an error, as compose reports it)."""

    def one(match: re.Match[str]) -> str:
        name, how, rest = match.groups()
        if name in exported:
            return exported[name]
        assert how != "?", f"compose refuses to start without {name}: {rest}"
        return rest if how == "-" else ""

    return INTERPOLATION.sub(one, value)


def compose_environment(name: str, exported: dict[str, str]) -> dict[str, str]:
    env = load_yaml(DOCKER / "compose.yaml")["services"][name]["environment"]
    return {key: interpolate(str(value), exported) for key, value in env.items()}


def env_file(path: Path) -> dict[str, str]:
    """What `set -a; . FILE` exports, read by bash as cluster.yaml's start commands do."""
    script = f'set -a; . "{path}"; set +a; env -0'
    out = subprocess.run(["bash", "-c", script], env={}, capture_output=True, check=True)
    ignored = {"PWD", "SHLVL", "_", "OLDPWD"}
    pairs = [item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item]
    return {key: value for key, value in pairs if key not in ignored}


def check_settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    ours = {key: value for key, value in env.items() if key.startswith("RIVERGEN_")}
    # Settings ignore unknown variables: a misspelled one would silently be a default.
    assert sorted(set(ours) - set(setting_variables())) == []
    assert sorted(set(CONFIGURED) - set(ours)) == []
    for key in [k for k in os.environ if k.startswith("RIVERGEN_")]:
        monkeypatch.delenv(key)
    for key, value in ours.items():
        monkeypatch.setenv(key, value)
    return Settings()


@pytest.mark.parametrize("service", RAY_SERVICES)
def test_compose_environment_is_a_complete_settings_tree(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported = {"RIVERGEN_AUTH__JWT_PRIVATE_KEY": generate_private_key_pem()}
    settings = check_settings(compose_environment(service, exported), monkeypatch)
    assert settings.s3.configured and settings.kafka.bootstrap_servers == "kafka:9092"
    assert settings.ray.address == "auto"


def test_a_misspelled_or_missing_setting_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    env = compose_environment("ray-head", {"RIVERGEN_AUTH__JWT_PRIVATE_KEY": "x"})
    env["RIVERGEN_POSTGRES__DNS"] = env.pop("RIVERGEN_POSTGRES__DSN")
    with pytest.raises(AssertionError, match="RIVERGEN_POSTGRES__DNS"):
        check_settings(env, monkeypatch)
    del env["RIVERGEN_POSTGRES__DNS"]
    with pytest.raises(AssertionError, match="RIVERGEN_POSTGRES__DSN"):
        check_settings(env, monkeypatch)


def test_compose_needs_the_jwt_key_exported() -> None:
    with pytest.raises(AssertionError, match="RIVERGEN_AUTH__JWT_PRIVATE_KEY"):
        compose_environment("ray-head", {})


def test_cluster_env_example_is_a_complete_settings_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    env = env_file(DOCKER / "cluster-env" / "rivergen.env.example")
    settings = check_settings(env, monkeypatch)
    assert settings.environment == "production"
    assert settings.auth.jwt_private_key is not None
    assert "BEGIN PRIVATE KEY" in settings.auth.jwt_private_key.get_secret_value()
    assert env["RAY_AUTH_MODE"] == "token" and env["RAY_AUTH_TOKEN"]


# (f) ports: what the platform connects to is what each service listens on.


def listening_ports(compose: dict[str, Any]) -> dict[str, set[int]]:
    """The in-network ports each backing service listens on, from its own configuration."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(DOCKER / "pgbouncer" / "pgbouncer.ini")
    kafka = compose["services"]["kafka"]["environment"]
    listeners = {
        name: int(address.rsplit(":", 1)[1])
        for name, _, address in (
            item.partition("://") for item in kafka["KAFKA_LISTENERS"].split(",")
        )
    }
    return {
        "postgres": {5432},  # the postgres image's default
        "pgbouncer": {int(ini["pgbouncer"]["listen_port"])},
        "redis-app": {6379},  # redis-server's default (no --port in the command)
        "redis-socket": {6379},
        "kafka": set(listeners.values()),
        "minio": {9000, 9001},  # `server` (S3 API) and --console-address
        "ray-head": {8000},
    }


def test_platform_connects_where_services_listen() -> None:
    compose = load_yaml(DOCKER / "compose.yaml")
    listening = listening_ports(compose)
    env = compose_environment("ray-head", {"RIVERGEN_AUTH__JWT_PRIVATE_KEY": "x"})
    addresses = [
        urlsplit(env[key]).netloc.rsplit("@", 1)[-1]
        for key in (
            "RIVERGEN_POSTGRES__DSN",
            "RIVERGEN_POSTGRES__MIGRATE_DSN",
            "RIVERGEN_REDIS_APP__URL",
            "RIVERGEN_REDIS_SOCKET__URL",
            "RIVERGEN_S3__ENDPOINT_URL",
        )
    ] + env["RIVERGEN_KAFKA__BOOTSTRAP_SERVERS"].split(",")
    for address in addresses:
        host, port = address.rsplit(":", 1)
        assert host in compose["services"], address
        assert int(port) in listening[host], address
    assert "pgbouncer:" in env["RIVERGEN_POSTGRES__DSN"]  # the services go through PgBouncer
    assert "postgres:5432" in env["RIVERGEN_POSTGRES__MIGRATE_DSN"]  # migrations do not


def test_published_ports_reach_a_listening_port_and_do_not_clash() -> None:
    compose = load_yaml(DOCKER / "compose.yaml")
    listening = listening_ports(compose)
    published: list[int] = []
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            host_ip, host_port, container_port = str(port).split(":")
            assert host_ip == "127.0.0.1", (name, port)
            assert int(container_port) in listening[name], (name, port)
            published.append(int(host_port))
    assert len(published) == len(set(published))


def test_pgbouncer_sends_the_dsn_database_to_postgres() -> None:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(DOCKER / "pgbouncer" / "pgbouncer.ini")
    env = compose_environment("ray-head", {"RIVERGEN_AUTH__JWT_PRIVATE_KEY": "x"})
    database = urlsplit(env["RIVERGEN_POSTGRES__DSN"]).path.lstrip("/")
    target = dict(word.split("=", 1) for word in ini["databases"][database].split())
    assert (target["host"], target["port"], target["dbname"]) == ("postgres", "5432", database)
    postgres = load_yaml(DOCKER / "compose.yaml")["services"]["postgres"]["environment"]
    assert postgres["POSTGRES_DB"] == database


# (g) cluster.yaml: fixed ports, autoscaling bounds, migrations before `serve deploy`.


def test_cluster_yaml_fixes_the_agent_metrics_and_ha_proxy_ports() -> None:
    config = load_yaml(ROOT / "cluster.yaml")
    starts = [
        command
        for command in config["head_start_ray_commands"] + config["worker_start_ray_commands"]
        if "ray start" in command
    ]
    for command in starts:
        assert "--dashboard-agent-listen-port=52365" in command
        assert "--metrics-export-port=8080" in command
    run_options = " ".join(config["docker"]["run_options"])
    assert "--env RAY_SERVE_HAPROXY_STATS_PORT=8404" in run_options
    assert "--env RAY_SERVE_HAPROXY_METRICS_PORT=9101" in run_options


def test_cluster_yaml_autoscaling_bounds() -> None:
    config = load_yaml(ROOT / "cluster.yaml")
    workers = [
        node
        for name, node in config["available_node_types"].items()
        if name != config["head_node_type"]
    ]
    assert workers
    for node in workers:
        assert 0 <= node["min_workers"] <= node["max_workers"] <= config["max_workers"]
    assert sum(node["min_workers"] for node in workers) <= config["max_workers"]
    assert config["idle_timeout_minutes"] > 0


def test_cluster_yaml_migrates_then_deploys_on_the_head() -> None:
    commands = load_yaml(ROOT / "cluster.yaml")["head_start_ray_commands"]
    steps = [
        next(i for i, command in enumerate(commands) if needle in command)
        for needle in ("ray start --head", "rivergen migrate", "serve deploy")
    ]
    assert steps == sorted(steps)
    deploy = commands[steps[2]]
    assert "deployments/serve_config.yaml" in deploy
    assert "--address http://127.0.0.1:8265" in deploy
    assert "wait-for.py http://127.0.0.1:8265/api/gcs_healthz" in deploy


# (h) compose.yaml against the Compose Specification's schema (what `docker compose` checks).

COMPOSE_SCHEMA = ROOT / "tests" / "schemas" / "compose-spec-v2.16.2.schema.json"


def compose_errors(compose: dict[str, Any]) -> list[str]:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(compose)
    ]


def test_compose_passes_the_compose_schema() -> None:
    assert compose_errors(load_yaml(DOCKER / "compose.yaml")) == []


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (_rename(("services", "ray-head"), "environment", "enviroment"), "services/ray-head"),
        (_rename(("services", "postgres"), "healthcheck", "health_check"), "services/postgres"),
        (
            _rename(("services", "ray-worker", "depends_on", "ray-head"), "condition", "state"),
            "services/ray-worker/depends_on",
        ),
    ],
    ids=["service-key", "healthcheck", "depends-on"],
)
def test_a_misspelled_compose_key_is_rejected(
    mutate: Callable[[dict[str, Any]], None], where: str
) -> None:
    compose = load_yaml(DOCKER / "compose.yaml")
    mutate(compose)
    found = compose_errors(compose)
    assert any(error.startswith(where) for error in found), found


# (g) the client's address: every deployment runs Serve's HAProxy through RiverGen's launcher,
# and the gateway trusts the header from HAProxy alone (loopback on its own node).


def test_the_image_runs_serves_haproxy_through_the_launcher() -> None:
    dockerfile = read("docker/Dockerfile")
    env: dict[str, str] = {}
    for instruction, args in dockerfile_instructions(dockerfile):
        if instruction == "ENV":
            env |= dict(word.split("=", 1) for word in shlex.split(args))
    launcher = env["RAY_SERVE_HAPROXY_BINARY_PATH"]
    workdir = [
        args
        for instruction, args in dockerfile_instructions(dockerfile)
        if instruction == "WORKDIR"
    ][-1]
    relative = Path(launcher).relative_to(workdir)
    assert str(relative) in copy_sources(dockerfile_instructions(dockerfile))
    assert os.access(ROOT / relative, os.X_OK)
    assert "deployments.haproxy_ingress" in (ROOT / relative).read_text()


def test_every_deployment_trusts_the_header_from_haproxy_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.unit.test_rayservice import one

    configured = {
        "compose": compose_environment("ray-head", {"RIVERGEN_AUTH__JWT_PRIVATE_KEY": "x"}),
        "cluster.yaml": env_file(DOCKER / "cluster-env" / "rivergen.env.example"),
        "rayservice.yaml": one("ConfigMap")["data"],
    }
    for where, env in configured.items():
        monkeypatch.setenv(
            "RIVERGEN_GATEWAY__TRUSTED_PROXIES", env["RIVERGEN_GATEWAY__TRUSTED_PROXIES"]
        )
        trusted = Settings().gateway.trusted_proxies
        assert any(n.network_address.is_loopback for n in trusted), where  # the node's HAProxy
        assert all(n.is_private for n in trusted), where  # never a client's network
