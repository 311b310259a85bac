"""Python jobs: a user's script on the Ray cluster through the Ray Jobs API, with the SDK's
address and credentials in its environment.

The Jobs API is the Ray dashboard's (``http://127.0.0.1:8265`` for a local `rivergen up`).
Ray 2.60 turns token authentication on for a local head: each request carries the cluster's
token (``RAY_AUTH_TOKEN``, else ``RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``: what
``ray get-auth-token`` prints), whatever ``RAY_AUTH_MODE`` this process has.
"""

from __future__ import annotations

import asyncio
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rivergen.cli.runner import RunState, pid_alive, state_file
from rivergen.errors import ConfigurationError
from rivergen.sdk import API_KEY_ENV, API_URL_ENV, TOKEN_ENV, WORKSPACE_ENV
from rivergen.settings import Settings

if TYPE_CHECKING:
    from ray.job_submission import JobSubmissionClient

# Ray's own precedence for the Jobs API address.
ADDRESS_ENVS = ("RAY_API_SERVER_ADDRESS", "RAY_ADDRESS")
# Nothing bigger goes up as a job's working directory (Ray refuses more than 500 MiB anyway).
EXCLUDES = [".git", ".venv", "__pycache__", ".rivergen", "*.pyc"]
SUCCEEDED = "SUCCEEDED"
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


@dataclass(frozen=True)
class Target:
    """Where jobs go and what they are given."""

    address: str
    api_url: str | None


def running_platform(settings: Settings) -> RunState | None:
    state = RunState.read(state_file(settings))
    return state if state is not None and pid_alive(state.pid) else None


def resolve_target(
    settings: Settings, address: str | None, env: Mapping[str, str] | None = None
) -> Target:
    """The Jobs API address: ``--address``, else ``RAY_API_SERVER_ADDRESS``/``RAY_ADDRESS``,
    else the dashboard of a local `rivergen up`. The API URL the job talks to:
    ``RIVERGEN_API_URL``, else that of the local platform."""
    source = os.environ if env is None else env
    local = running_platform(settings)
    api_url = source.get(API_URL_ENV) or (local.api_url if local else None)
    chosen = address or next((source[n] for n in ADDRESS_ENVS if source.get(n)), None)
    if chosen is None and local is not None:
        chosen = local.dashboard_url
    if not chosen:
        raise ConfigurationError(
            "no Ray cluster to submit to: pass --address http://HEAD:8265, set RAY_ADDRESS, "
            "or start the platform here with `rivergen up`",
            code="ray_address_missing",
        )
    return Target(address=chosen, api_url=api_url)


def ray_auth_token(env: Mapping[str, str] | None = None) -> str | None:
    """The Ray cluster's token as ``ray get-auth-token`` finds it; None if there is none."""
    source = os.environ if env is None else env
    if source.get("RAY_AUTH_TOKEN"):
        return source["RAY_AUTH_TOKEN"].strip()
    path = source.get("RAY_AUTH_TOKEN_PATH")
    candidate = Path(path).expanduser() if path else Path.home() / ".ray" / "auth_token"
    try:
        token = candidate.read_text().strip()
    except OSError:
        if path:
            raise ConfigurationError(
                f"RAY_AUTH_TOKEN_PATH names {path}, which cannot be read",
                code="ray_token_unreadable",
            ) from None
        return None
    return token or None


def jobs_client(address: str, env: Mapping[str, str] | None = None) -> JobSubmissionClient:
    from ray.job_submission import JobSubmissionClient

    token = ray_auth_token(env)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    # Ray lets RAY_ADDRESS override the address it is given; `resolve_target` has already
    # weighed it against --address, so the client gets exactly the chosen one.
    hidden = {name: os.environ.pop(name) for name in ADDRESS_ENVS if name in os.environ}
    try:
        return JobSubmissionClient(address, headers=headers)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigurationError(
            f"the Ray Jobs API at {address} did not answer: {exc}", code="ray_unreachable"
        ) from exc
    finally:
        os.environ.update(hidden)


def job_env(api_url: str | None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the job's process gets for the SDK: the API URL, the caller's credential and
    workspace. Values are secrets: never print them."""
    source = os.environ if env is None else env
    passed = {API_URL_ENV: api_url} if api_url else {}
    for name in (API_KEY_ENV, TOKEN_ENV, WORKSPACE_ENV):
        if source.get(name):
            passed[name] = source[name]
    return passed


def entrypoint(script: Path, args: list[str], python: str) -> str:
    return shlex.join([python, script.name, *args])


def submit_script(
    client: JobSubmissionClient,
    script: Path,
    args: list[str],
    *,
    env_vars: Mapping[str, str],
    python: str = "python",
    submission_id: str | None = None,
) -> str:
    """Submit ``script`` (its directory as the working dir) and return the submission id."""
    runtime_env = {
        "working_dir": str(script.parent),
        "excludes": EXCLUDES,
        "env_vars": dict(env_vars),
    }
    job_id: str = client.submit_job(
        entrypoint=entrypoint(script, args, python),
        runtime_env=runtime_env,
        submission_id=submission_id,
        metadata={"submitted_by": "rivergen submit", "script": script.name},
    )
    return job_id


def follow_logs(client: JobSubmissionClient, job_id: str, write: Callable[[str], None]) -> None:
    """Write the job's output as it comes, until the job ends."""

    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            write(chunk)

    asyncio.run(tail())


def job_status(client: JobSubmissionClient, job_id: str) -> str:
    return str(client.get_job_status(job_id).value)
