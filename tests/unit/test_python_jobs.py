"""Python jobs without a cluster: the SDK's environment, where `submit` goes and what it
passes, the Ray token, the commands' help, and metrics that need no Ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest
from typer.testing import CliRunner

from rivergen.cli.main import app
from rivergen.cli.runner import RunState, state_file
from rivergen.cli.submit import entrypoint, job_env, ray_auth_token, resolve_target
from rivergen.errors import ConfigurationError
from rivergen.metrics import record_event, record_job, record_kernel, record_upload
from rivergen.sdk import Client
from rivergen.settings import Settings

API = "http://127.0.0.1:8000"


def test_from_env_reads_the_api_key_and_workspace() -> None:
    workspace = str(uuid4())
    env = {
        "RIVERGEN_API_URL": API + "/",
        "RIVERGEN_API_KEY": "rg_x",
        "RIVERGEN_WORKSPACE_ID": workspace,
    }
    with Client.from_env(env) as client:
        assert client.api_url == API
        assert str(client.workspace_id) == workspace
        headers = client._http.headers
        assert headers["x-api-key"] == "rg_x" and "authorization" not in headers
        assert headers["x-workspace-id"] == workspace
        assert str(client._http.base_url) == API + "/api/v1/"


def test_from_env_takes_a_token_and_prefers_an_api_key() -> None:
    with Client.from_env({"RIVERGEN_API_URL": API, "RIVERGEN_TOKEN": "eyJ"}) as client:
        assert client._http.headers["authorization"] == "Bearer eyJ"
        assert client.workspace_id is None and "x-workspace-id" not in client._http.headers
    both = {"RIVERGEN_API_URL": API, "RIVERGEN_TOKEN": "eyJ", "RIVERGEN_API_KEY": "rg_x"}
    with Client.from_env(both) as client:
        assert "authorization" not in client._http.headers


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "RIVERGEN_API_URL and RIVERGEN_API_KEY (or RIVERGEN_TOKEN) not set"),
        ({"RIVERGEN_API_URL": API}, "RIVERGEN_API_KEY (or RIVERGEN_TOKEN) not set"),
        ({"RIVERGEN_API_KEY": "k"}, "RIVERGEN_API_URL not set"),
        ({"RIVERGEN_API_URL": "localhost:8000", "RIVERGEN_API_KEY": "k"}, "http(s) URL"),
        (
            {"RIVERGEN_API_URL": API, "RIVERGEN_API_KEY": "k", "RIVERGEN_WORKSPACE_ID": "ws"},
            "not a workspace id",
        ),
    ],
)
def test_from_env_names_what_is_missing(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Client.from_env(env)
    assert message in caught.value.message
    assert caught.value.error_code == "sdk_not_configured"


def test_a_client_takes_exactly_one_credential() -> None:
    with pytest.raises(ConfigurationError, match="exactly one credential"):
        Client(API)
    with pytest.raises(ConfigurationError, match="exactly one credential"):
        Client(API, api_key="k", token="t")


def settings_in(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


def test_submit_goes_to_the_address_option_then_ray_address_then_the_local_platform(
    tmp_path: Path,
) -> None:
    settings = settings_in(tmp_path)
    with pytest.raises(ConfigurationError, match="no Ray cluster to submit to"):
        resolve_target(settings, None, {})
    RunState(pid=1, api_url=API, dashboard_url="http://127.0.0.1:8265").write(
        state_file(settings)
    )  # pid 1 is alive: a running platform
    local = resolve_target(settings, None, {})
    assert (local.address, local.api_url) == ("http://127.0.0.1:8265", API)
    env = {"RAY_ADDRESS": "http://head:8265", "RIVERGEN_API_URL": "http://api:8000"}
    from_env = resolve_target(settings, None, env)
    assert (from_env.address, from_env.api_url) == ("http://head:8265", "http://api:8000")
    assert resolve_target(settings, "http://other:8265", env).address == "http://other:8265"


def test_the_job_gets_the_api_url_and_the_callers_credentials_only() -> None:
    env = {
        "RIVERGEN_API_KEY": "rg_x",
        "RIVERGEN_WORKSPACE_ID": "w",
        "RIVERGEN_TOKEN": "",
        "RIVERGEN_POSTGRES__DSN": "postgresql://secret",
        "HOME": "/root",
    }
    assert job_env(API, env) == {
        "RIVERGEN_API_URL": API,
        "RIVERGEN_API_KEY": "rg_x",
        "RIVERGEN_WORKSPACE_ID": "w",
    }
    assert entrypoint(Path("/x/my job.py"), ["--n", "3"], "python") == "python 'my job.py' --n 3"


def test_ray_token_from_env_then_its_path_then_the_default_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert (
        ray_auth_token({"RAY_AUTH_TOKEN": "abc", "RAY_AUTH_TOKEN_PATH": str(token_file)}) == "abc"
    )
    assert ray_auth_token({"RAY_AUTH_TOKEN_PATH": str(token_file)}) == "from-file"
    with pytest.raises(ConfigurationError, match="cannot be read"):
        ray_auth_token({"RAY_AUTH_TOKEN_PATH": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["submit", "--help"], ["Jobs tab", "RIVERGEN_API_KEY", "--wait", "--address"]),
        (["jobs", "--help"], ["list", "status", "logs", "ray get-auth-token"]),
        (["jobs", "logs", "--help"], ["--follow"]),
    ],
)
def test_help_explains_the_commands(args: list[str], words: list[str]) -> None:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    for word in words:
        assert word in result.output, (word, result.output)


def test_submit_without_a_cluster_says_where_to_point_it(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text("print(1)\n")
    result = CliRunner().invoke(
        app,
        ["submit", str(script), "--data-dir", str(tmp_path / "d")],
        env={"RAY_ADDRESS": "", "RAY_API_SERVER_ADDRESS": ""},
    )
    assert result.exit_code == 2
    assert "no Ray cluster to submit to" in result.output


def test_metrics_import_without_ray_and_record_nothing_without_it() -> None:
    code = "import sys, compute.metrics; assert 'ray' not in sys.modules, 'ray imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
    # Ray is imported in this process but not initialized: the helpers do nothing.
    record_kernel("spmv", 0.1, 10)
    record_job("pagerank", "failed", 1.0)
    record_upload(10)
    record_event("job.failed")


def test_a_local_head_gets_the_configured_dashboard_agent_port_on_loopback() -> None:
    from ray._private import parameter

    from rivergen.cli.runner import _local_head_params

    original = parameter.RayParams
    assert original().dashboard_agent_listen_port == 52365  # what every Ray here asks for
    with _local_head_params(29366):
        params = parameter.RayParams()
        assert params.dashboard_agent_listen_port == 29366
        assert params.node_ip_address == "127.0.0.1"  # every listener of the head on loopback
        explicit = parameter.RayParams(dashboard_agent_listen_port=1234, node_ip_address="::1")
        assert explicit.dashboard_agent_listen_port == 1234
        assert explicit.node_ip_address == "::1"
    assert parameter.RayParams is original
    assert Settings().ray.dashboard_agent_port == 52365


def test_an_unreachable_jobs_api_is_named_and_address_beats_ray_address(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["jobs", "list", "--address", "http://127.0.0.1:29399", "--data-dir", str(tmp_path)],
        env={"RAY_ADDRESS": "http://127.0.0.1:29398", "RAY_AUTH_TOKEN": "t"},
    )
    assert result.exit_code == 2, result.output
    assert "the Ray Jobs API at http://127.0.0.1:29399 did not answer" in result.output
