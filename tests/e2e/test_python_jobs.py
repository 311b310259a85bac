"""A Python job as a user runs one: `rivergen submit script.py --wait` against the Ray Jobs API
of the suite's multi-node cluster, the script reading a dataset of the user's workspace through
the SDK (the platform's API on that cluster)."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.cluster import RayCluster
from tests.e2e.platform_process import RIVERGEN, clean_env

SALES = b"region,amount\nnorth,10.5\nsouth,20.25\neast,7\nwest,100\nnorth,2.25\n"
SCRIPT = """\
import sys

import ray

from rivergen.sdk import Client

with Client.from_env() as client:
    table = client.read_dataset(sys.argv[1])
    print(f"rows={table.num_rows} sum={sum(table.column('amount').to_pylist())}")
    ray.init()
    staged = ray.get(client.dataset_to_ray(sys.argv[1]))
    print(f"through ray: rows={staged.num_rows}")
"""


def sign_up(api_url: str) -> tuple[dict[str, str], str]:
    body = {
        "email": f"jobs-{uuid.uuid4().hex[:10]}@example.com",
        "password": "a long enough password",
        "display_name": "Jobs",
    }
    registered = httpx.post(f"{api_url}/api/v1/auth/register", json=body, timeout=30)
    assert registered.status_code == 201, registered.text
    return {"Authorization": f"Bearer {registered.json()['access_token']}"}, registered.json()[
        "workspace_id"
    ]


def sales_dataset(api_url: str, auth: dict[str, str]) -> str:
    uploaded = httpx.post(
        f"{api_url}/api/v1/storage/upload",
        files={"file": ("sales.csv", SALES, "text/csv")},
        headers=auth,
        timeout=60,
    )
    assert uploaded.status_code == 201, uploaded.text
    made = httpx.post(
        f"{api_url}/api/v1/datasets",
        json={"name": "sales", "file_id": uploaded.json()["id"]},
        headers=auth,
        timeout=60,
    )
    assert made.status_code == 201, made.text
    dataset: str = made.json()["id"]
    return dataset


def api_key(api_url: str, auth: dict[str, str]) -> str:
    created = httpx.post(
        f"{api_url}/api/v1/api-keys", json={"name": "jobs", "role": "viewer"}, headers=auth
    )
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


def cli(
    cluster: RayCluster, env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``rivergen ARGS --address`` the cluster's Jobs API."""
    return subprocess.run(
        [*RIVERGEN, *args, "--address", cluster.dashboard_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_a_submitted_script_reads_its_workspaces_dataset_and_nothing_else(
    cluster: RayCluster, tmp_path: Path
) -> None:
    started = time.monotonic()
    # The user's machine: no RiverGen settings, the cluster's Ray token and the API's URL.
    env = clean_env(**cluster.auth_env, RIVERGEN_API_URL=cluster.api_url)
    for name in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"):
        env.pop(name, None)
    api_url = cluster.api_url
    alice, workspace = sign_up(api_url)
    sales_dataset(api_url, alice)
    bob, _ = sign_up(api_url)
    bobs = sales_dataset(api_url, bob)
    key = api_key(api_url, alice)
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "count.py").write_text(SCRIPT)
    user_env = dict(env, RIVERGEN_API_KEY=key, RIVERGEN_WORKSPACE_ID=workspace)

    ran = cli(cluster, user_env, "submit", str(job_dir / "count.py"), "sales", "--wait")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "rows=5 sum=140.0" in ran.stdout
    assert "through ray: rows=5" in ran.stdout
    assert key not in ran.stdout + ran.stderr  # the credential is passed, never printed
    job_id = ran.stdout.split("submitted job ", 1)[1].split()[0]

    # Bob's dataset does not exist for Alice's key, in a job as in the API.
    refused = cli(cluster, user_env, "submit", str(job_dir / "count.py"), bobs, "--wait")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"rivergen.errors.NotFound: dataset {bobs} not found" in refused.stdout
    failed_id = refused.stdout.split("submitted job ", 1)[1].split()[0]

    listed = cli(cluster, user_env, "jobs", "list")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()}
    assert rows[job_id] == "SUCCEEDED" and rows[failed_id] == "FAILED"
    status = cli(cluster, user_env, "jobs", "status", job_id)
    assert status.returncode == 0 and "SUCCEEDED" in status.stdout
    failed = cli(cluster, user_env, "jobs", "status", failed_id)
    assert failed.returncode == 1 and "FAILED" in failed.stdout
    logs = cli(cluster, user_env, "jobs", "logs", job_id)
    assert "rows=5 sum=140.0" in logs.stdout
    assert time.monotonic() - started < 180
