"""The `rivergen` command: run, stop and inspect the platform, and migrate its database."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import asyncpg
import httpx
import typer

from rivergen.accounts import store as accounts_store
from rivergen.cli.runner import (
    RunState,
    ServeApps,
    StopRequested,
    pid_alive,
    run_platform,
    state_file,
    stop_platform,
)
from rivergen.clients import require
from rivergen.db import MigrationRunner
from rivergen.embedded import start_embedded
from rivergen.errors import ConfigurationError
from rivergen.sdk import API_KEY_ENV, TOKEN_ENV
from rivergen.settings import Settings, load_settings

T = TypeVar("T")
# The module that runs `rivergen up` with the platform's Serve applications.
SERVE_PLATFORM = "deployments.platform"

app = typer.Typer(
    name="rivergen",
    help=(
        "RiverGen: a distributed data-and-AI platform on Ray.\n\n"
        "Every setting is an environment variable with the prefix RIVERGEN_, nested with __ "
        "(RIVERGEN_POSTGRES__DSN, RIVERGEN_KAFKA__BOOTSTRAP_SERVERS, ...). A service left "
        "unset runs embedded; a configured one must answer."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="State of the embedded services (sets RIVERGEN_DATA_DIR). Default: ./.rivergen",
        show_default=False,
    ),
]


def _settings(data_dir: Path | None) -> Settings:
    if data_dir is not None:
        os.environ["RIVERGEN_DATA_DIR"] = str(data_dir)
    return load_settings()


def _fail(exc: ConfigurationError) -> typer.Exit:
    typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


@app.command()
def up(
    data_dir: DataDir = None,
    port: Annotated[
        int | None, typer.Option(help="Gateway HTTP port (RIVERGEN_HTTP__PORT). Default: 8000")
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Once ready, sign up a demo account and import the Northwind tables as "
            "datasets (kept across runs; the sign-in is printed).",
        ),
    ] = False,
) -> None:
    """Run the whole platform on this machine until Ctrl-C or `rivergen down`.

    Unconfigured services start embedded (Postgres, Redis, Redis Streams as the event bus, a
    local object store, a local Ray head with its dashboard on 127.0.0.1:8265). Migrations are
    applied, the Serve app is deployed, and the URLs are printed once /readyz is green.
    A configured service that does not answer within RIVERGEN_STARTUP_TIMEOUT_S (15 s) stops
    start-up with exit code 2 and a message naming it.

    With --demo, a demo account with the published Northwind tables as datasets is made through
    the API (again on each run: what exists is kept), and its sign-in printed.
    """
    if port is not None:
        os.environ["RIVERGEN_HTTP__PORT"] = str(port)
    settings = _settings(data_dir)
    running = RunState.read(state_file(settings))
    if running is not None and pid_alive(running.pid):
        typer.echo(f"RiverGen is already running (pid {running.pid}) at {running.api_url}")
        raise typer.Exit(code=1)
    # The Serve applications are deployments/'s, above this library: this process goes on as
    # `python -m deployments.platform` (same pid, its options in the environment now), which
    # calls start_platform with them.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", SERVE_PLATFORM, *(["--demo"] if demo else [])])


def start_platform(settings: Settings, apps: ServeApps, *, demo: bool = False) -> None:
    """Run the platform with ``apps`` until stopped; exits with its code (2: a configuration
    error, 1: stopped before start-up finished)."""
    try:
        code = run_platform(settings, apps, say=typer.echo, on_ready=_seed_demo if demo else None)
    except ConfigurationError as exc:
        raise _fail(exc) from None
    except (StopRequested, KeyboardInterrupt):
        typer.echo("stopped before start-up finished", err=True)
        raise typer.Exit(code=1) from None
    raise typer.Exit(code=code)


def _seed_demo(api_url: str, settings: Settings) -> None:
    from rivergen.demo import seed_demo

    typer.echo("seeding the demo account")
    try:
        report = seed_demo(api_url, settings.data_dir.expanduser() / "secrets", say=typer.echo)
    except httpx.HTTPError as exc:
        # The platform itself is up: say what failed and keep serving.
        detail = exc.response.text if isinstance(exc, httpx.HTTPStatusError) else str(exc)
        typer.secho(f"the demo could not be seeded: {detail}", fg=typer.colors.YELLOW, err=True)
        return
    typer.echo(
        f"Demo: sign in as {report.email} with password {report.password} "
        f"({len(report.datasets)} Northwind datasets in workspace {report.workspace_id})."
    )


@app.command()
def down(data_dir: DataDir = None) -> None:
    """Stop a platform started by `rivergen up` and everything it started."""
    settings = _settings(data_dir)
    if stop_platform(settings):
        typer.echo("RiverGen stopped.")
    else:
        typer.echo("RiverGen is not running.")


@app.command()
def status(data_dir: DataDir = None) -> None:
    """Show whether the platform runs, and each dependency's readiness and latency.

    Exit code 0 when ready, 1 when running but not ready, 3 when not running.
    """
    settings = _settings(data_dir)
    state = RunState.read(state_file(settings))
    if state is None or not pid_alive(state.pid):
        typer.echo("RiverGen is not running.")
        raise typer.Exit(code=3)
    typer.echo(f"RiverGen is running (pid {state.pid}) at {state.api_url}")
    if state.dashboard_url:
        typer.echo(f"  dashboard: {state.dashboard_url}")
    try:
        response = httpx.get(f"{state.api_url}/readyz", timeout=10.0)
        report = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        typer.echo(f"  /readyz did not answer: {exc}")
        raise typer.Exit(code=1) from None
    for name, dep in report.get("dependencies", {}).items():
        detail = (
            f"{dep['latency_ms']:.1f} ms" if dep.get("ok") else (dep.get("error") or "not ready")
        )
        typer.echo(f"  {name:<13} {'ok' if dep.get('ok') else 'FAIL':<5} {detail}")
    raise typer.Exit(code=0 if response.status_code == 200 else 1)


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Apply pending database migrations (straight to Postgres, not through PgBouncer).

    Uses RIVERGEN_POSTGRES__MIGRATE_DSN, else RIVERGEN_POSTGRES__DSN, else the embedded
    Postgres in the data dir.
    """
    settings = _settings(data_dir)
    embedded = start_embedded(settings, postgres_only=True)
    try:
        dsn = settings.postgres.migrate_dsn or settings.postgres.dsn
        target = (
            require(dsn, "postgres", "RIVERGEN_POSTGRES__DSN")
            if dsn is not None
            else embedded.env["RIVERGEN_POSTGRES__MIGRATE_DSN"]
        )
        applied = asyncio.run(MigrationRunner(target).apply(settings.startup_timeout_s))
    except ConfigurationError as exc:
        raise _fail(exc) from None
    finally:
        embedded.stop()
    if applied:
        for migration in applied:
            typer.echo(f"applied {migration.version:04d}_{migration.name}")
    else:
        typer.echo("the database is up to date")


# Platform operators ----------------------------------------------------------------------------

operators_app = typer.Typer(
    name="operators",
    help="Platform operators: the people who alone call the operations routes (/api/v1/operations: "
    "nodes, every tenant's deployments, retries in any workspace). No workspace role grants "
    "that. Also settable as RIVERGEN_AUTH__OPERATORS (a JSON list of emails).",
    no_args_is_help=True,
)
app.add_typer(operators_app)

Email = Annotated[str, typer.Argument(help="The email of an existing account.")]


def _with_database(data_dir: Path | None, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run ``work`` on one connection straight to Postgres (as `migrate` does)."""
    settings = _settings(data_dir)
    embedded = start_embedded(settings, postgres_only=True)
    try:
        dsn = settings.postgres.migrate_dsn or settings.postgres.dsn
        target = (
            require(dsn, "postgres", "RIVERGEN_POSTGRES__DSN")
            if dsn is not None
            else embedded.env["RIVERGEN_POSTGRES__MIGRATE_DSN"]
        )

        async def run() -> T:
            try:
                conn = await asyncpg.connect(target, timeout=settings.startup_timeout_s)
            except (OSError, asyncpg.PostgresError) as exc:
                raise ConfigurationError(f"postgres is unreachable: {type(exc).__name__}") from None
            try:
                async with conn.transaction():
                    return await work(conn)
            finally:
                await conn.close()

        return asyncio.run(run())
    except ConfigurationError as exc:
        raise _fail(exc) from None
    finally:
        embedded.stop()


@operators_app.command("add")
def operators_add(email: Email, data_dir: DataDir = None) -> None:
    """Make the account of EMAIL a platform operator (exit 1 when no account has it)."""
    granted_by = f"cli:{os.environ.get('USER', 'unknown')}"
    user = _with_database(data_dir, lambda c: accounts_store.grant_operator(c, email, granted_by))
    if user is None:
        typer.secho(f"error: no account has the email {email}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1)
    typer.echo(f"{email} is a platform operator")


@operators_app.command("remove")
def operators_remove(email: Email, data_dir: DataDir = None) -> None:
    """Take the operator role from EMAIL (one named in RIVERGEN_AUTH__OPERATORS keeps it)."""
    removed = _with_database(data_dir, lambda c: accounts_store.revoke_operator(c, email))
    typer.echo(f"{email} is no longer a platform operator" if removed else f"{email} was not one")


@operators_app.command("list")
def operators_list(data_dir: DataDir = None) -> None:
    """The operators granted with `add` (one a line: email, granted by, when)."""
    rows = _with_database(data_dir, accounts_store.operators)
    for row in rows:
        typer.echo(f"{row['email']}\t{row['granted_by']}\t{row['granted_at'].isoformat()}")
    settings = _settings(data_dir)
    for email in settings.auth.operators:
        typer.echo(f"{email}\tsetting RIVERGEN_AUTH__OPERATORS\t-")


# Python jobs ---------------------------------------------------------------------------------

Address = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="The Ray dashboard (Jobs API), e.g. http://127.0.0.1:8265. Default: "
        "RAY_ADDRESS, else the dashboard of the platform `rivergen up` runs here.",
        show_default=False,
    ),
]

jobs_app = typer.Typer(
    name="jobs",
    help="Python jobs on the Ray cluster (those of `rivergen submit` and `ray job submit`): "
    "list them, their status and their logs. The Ray token comes from RAY_AUTH_TOKEN, "
    "RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token (what `ray get-auth-token` prints).",
    no_args_is_help=True,
)
app.add_typer(jobs_app)


def _jobs_client(data_dir: Path | None, address: str | None) -> tuple[Any, Any]:
    from rivergen.cli import submit as jobs

    settings = _settings(data_dir)
    try:
        target = jobs.resolve_target(settings, address)
        return jobs.jobs_client(target.address), target
    except ConfigurationError as exc:
        raise _fail(exc) from None


@app.command(context_settings={"ignore_unknown_options": True})
def submit(
    script: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            resolve_path=True,
            help="The Python script to run; its directory is uploaded as the working dir.",
        ),
    ],
    args: Annotated[
        list[str] | None,
        typer.Argument(
            help="Arguments for the script (after `--` if they start with -).", show_default=False
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Follow the logs to the end; exit 0 if the job succeeded, "
            "1 if it failed or was stopped.",
        ),
    ] = False,
    address: Address = None,
    python: Annotated[
        str, typer.Option(help="The Python that runs the script on the cluster.")
    ] = "python",
    submission_id: Annotated[
        str | None, typer.Option(help="Your own job id (unique). Default: Ray makes one.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Run a Python script on the Ray cluster as a job (it shows in the dashboard's Jobs tab).

    The script runs in the cluster's Python, where `rivergen` (the SDK) and `compute` are
    installed, with RIVERGEN_API_URL (this environment's, else the local platform's),
    and your RIVERGEN_API_KEY or RIVERGEN_TOKEN and RIVERGEN_WORKSPACE_ID, so that
    `rivergen.sdk.Client.from_env()` reads your workspace's datasets with your rights.
    Credentials are passed to the job, never printed.

    Prints the job id; follow it with `rivergen jobs logs ID --follow`.
    """
    from rivergen.cli import submit as jobs

    client, target = _jobs_client(data_dir, address)
    env_vars = jobs.job_env(target.api_url)
    if API_KEY_ENV not in env_vars and TOKEN_ENV not in env_vars:
        typer.secho(
            f"warning: neither {API_KEY_ENV} nor {TOKEN_ENV} is set: the job's SDK calls "
            "will be refused",
            fg=typer.colors.YELLOW,
            err=True,
        )
    try:
        job_id = jobs.submit_script(
            client,
            script,
            list(args or []),
            env_vars=env_vars,
            python=python,
            submission_id=submission_id,
        )
    except RuntimeError as exc:
        typer.secho(f"error: the cluster refused the job: {exc}", fg=typer.colors.RED, err=True)
        if "No available agent" in str(exc):
            typer.secho(
                "  (the head's dashboard agent has no HTTP server: is its port, "
                "RIVERGEN_RAY__DASHBOARD_AGENT_PORT, taken by another Ray on that machine?)",
                err=True,
            )
        raise typer.Exit(code=2) from None
    typer.echo(f"submitted job {job_id} to {target.address}")
    if not wait:
        return
    jobs.follow_logs(client, job_id, lambda chunk: typer.echo(chunk, nl=False))
    status = jobs.job_status(client, job_id)
    typer.echo(f"job {job_id} {status}", err=True)
    raise typer.Exit(code=0 if status == jobs.SUCCEEDED else 1)


JobId = Annotated[str, typer.Argument(help="The job's submission id (from `submit`).")]


@jobs_app.command("status")
def jobs_status(job_id: JobId, address: Address = None, data_dir: DataDir = None) -> None:
    """Print the job's status (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED) and message.

    Exit code 0 unless the job failed or was stopped (1)."""
    client, _ = _jobs_client(data_dir, address)
    info = _job_info(client, job_id)
    typer.echo(f"{job_id} {info.status.value}" + (f": {info.message}" if info.message else ""))
    raise typer.Exit(code=1 if info.status.value in {"FAILED", "STOPPED"} else 0)


@jobs_app.command("logs")
def jobs_logs(
    job_id: JobId,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the job ends.")
    ] = False,
    address: Address = None,
    data_dir: DataDir = None,
) -> None:
    """Print the job's output (stdout and stderr of the script)."""
    from rivergen.cli import submit as jobs

    client, _ = _jobs_client(data_dir, address)
    _job_info(client, job_id)
    if follow:
        jobs.follow_logs(client, job_id, lambda chunk: typer.echo(chunk, nl=False))
    else:
        typer.echo(client.get_job_logs(job_id), nl=False)


@jobs_app.command("list")
def jobs_list(address: Address = None, data_dir: DataDir = None) -> None:
    """Every job the cluster knows, newest first: id, status, start time, entrypoint."""
    from datetime import UTC, datetime

    client, _ = _jobs_client(data_dir, address)
    listed = sorted(client.list_jobs(), key=lambda j: j.start_time or 0, reverse=True)
    if not listed:
        typer.echo("no jobs")
        return
    for job in listed:
        started = (
            datetime.fromtimestamp(job.start_time / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
            if job.start_time
            else "-"
        )
        ident = job.submission_id or job.job_id or "-"
        typer.echo(f"{ident:<32} {job.status.value:<10} {started}  {job.entrypoint}")


def _job_info(client: Any, job_id: str) -> Any:
    try:
        return client.get_job_info(job_id)
    except RuntimeError as exc:
        typer.secho(f"error: no job {job_id}: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
