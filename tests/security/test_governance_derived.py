"""Derived datasets never show a reader more than its own policies allow: what the owner
(ungoverned) made with SQL query jobs or saved through Prompt Studio, read by a governed member
on every path (the job's result, the dataset's preview, download and content, its profile, the
policies' evaluation), is either refused (403 ``derived_from_governed_data``) or contained in
what that member gets by running the same computation over the base datasets itself.

One workspace over Northwind's customers, orders and products, through the gateway app on the
real services and a local Ray head: the owner ungoverned; the editor sees German customers only
(a row filter); the viewer's customers have contact names redacted, phones hashed and the fax
denied, and the viewer may take at most ``LIMIT`` products.

For each case the owner runs the SQL as a job; each reader then runs the same SQL (or, where it
names a column the reader's policies deny, the SQL without it) as its own job, reads the owner's
result on every path, and the test checks:

- every path agrees (all refused with ``derived_from_governed_data``, or all showing the same
  rows), and the evaluation says the same;
- what is shown is a sub-multiset of the reader's own answer (a redacted column of the owner's
  result compares by being null or not; a column that is all null compares with anything);
- no value the reader's policies hide (real contact names, phones and faxes for the viewer,
  non-German customers' ids, companies and contacts for the editor) appears in any response,
  unless the reader's own answer shows it too;
- the expected outcome of the case (refused, or shown) where the design decides it.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pyarrow.parquet as pq
import pytest

from rivergen.jsonvalues import json_value
from rivergen.settings import ModelProviderSettings, Settings
from tests.conftest import SHARED_DATA
from tests.integration.api_client import Account, new_team
from tests.integration.openai_stub import OpenAIStub, openai_stub
from tests.integration.ray_cluster import ray_local
from tests.integration.test_datasets_api import create, put_file
from tests.integration.test_jobs_api import wait_for
from tests.platform_app import create_app

STUB_PORT = 23111
NORTHWIND = SHARED_DATA / "northwind"
REDACTED = "****"
DERIVED = "derived_from_governed_data"
LIMIT = 5  # the viewer's query_limit on products
READERS = ("editor", "viewer")
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]

Expect = Literal["denied", "shown", "any"]


# Fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    with openai_stub(STUB_PORT) as server:
        yield server


@pytest.fixture(scope="module")
async def client(
    migrated: Settings, stub: OpenAIStub, ray_local: None
) -> AsyncIterator[httpx.AsyncClient]:
    # Jobs are polled and every case reads many paths: no requests-a-minute limit here.
    provider = ModelProviderSettings(name="stub", base_url=stub.url, model="stub", timeout_s=10)
    prompts = migrated.prompts.model_copy(update={"providers": [provider], "max_seconds": 60.0})
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    # (More attempts: supervisors of other test sessions on the same Postgres may take a job
    # and lose it; see run().)
    jobs = migrated.jobs.model_copy(
        update={"heartbeat_interval_s": 0.5, "progress_interval_s": 0.5, "max_attempts": 10}
    )
    settings = migrated.model_copy(update={"prompts": prompts, "gateway": gateway, "jobs": jobs})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", timeout=120
        ) as http:
            yield http


@dataclass
class World:
    people: dict[str, Account]
    datasets: dict[str, str]
    customers: list[dict[str, Any]]  # as the owner reads them (all of them, raw)
    hidden: dict[str, set[str]]  # reader -> raw values its policies hide from it
    raw_private: set[str]  # the viewer's hidden values: never shown to it under a mask
    stub: OpenAIStub
    made: dict[str, Made] = field(default_factory=dict)  # the owner's results, by case


async def upload(client: httpx.AsyncClient, owner: Account, name: str) -> str:
    file_id = await put_file(client, owner, f"{name}.csv", (NORTHWIND / f"{name}.csv").read_bytes())
    # Northwind's customers and orders have unquoted commas in some rows: those are left out.
    made = await create(client, owner, name, file_id, on_invalid_rows="skip")
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def add_policy(client: httpx.AsyncClient, admin: Account, **body: Any) -> None:
    made = await client.post("/api/v1/policies", json=body, headers=admin.headers())
    assert made.status_code == 201, made.text


async def preview(client: httpx.AsyncClient, who: Account, dataset: str) -> httpx.Response:
    response = await client.get(
        f"/api/v1/datasets/{dataset}/preview", params={"limit": 1000}, headers=who.headers()
    )
    assert response.status_code == 200, response.text
    return response


@pytest.fixture(scope="module")
async def world(client: httpx.AsyncClient, stub: OpenAIStub) -> World:
    people = await new_team(client)
    owner, admin = people["owner"], people["admin"]
    datasets = {name: await upload(client, owner, name) for name in ("customers", "orders")}
    datasets["products"] = await upload(client, owner, "products")
    customers = datasets["customers"]
    await add_policy(
        client,
        admin,
        name="germany",
        dataset_id=customers,
        roles=["editor"],
        rule={
            "type": "row_filter",
            "filters": [{"column": "country", "op": "==", "value": "Germany"}],
        },
    )
    await add_policy(
        client,
        admin,
        name="contacts",
        dataset_id=customers,
        roles=["viewer"],
        rule={"type": "mask", "columns": ["contactName"], "method": "redact"},
    )
    await add_policy(
        client,
        admin,
        name="phones",
        dataset_id=customers,
        roles=["viewer"],
        rule={"type": "mask", "columns": ["phone"], "method": "hash"},
    )
    await add_policy(
        client,
        admin,
        name="no fax",
        dataset_id=customers,
        roles=["viewer"],
        rule={"type": "access", "columns": ["fax"]},
    )
    await add_policy(
        client,
        admin,
        name="few products",
        dataset_id=datasets["products"],
        roles=["viewer"],
        rule={"type": "query_limit", "max_rows": LIMIT},
    )

    rows: list[dict[str, Any]] = (await preview(client, owner, customers)).json()["rows"]
    germans = [r for r in rows if r["country"] == "Germany"]
    assert len(rows) > 60 and 5 < len(germans) < len(rows)

    def values(of: Sequence[dict[str, Any]], columns: Sequence[str]) -> set[str]:
        found = {r[c] for r in of for c in columns}
        return {v for v in found if isinstance(v, str) and len(v) >= 5 and v != "NULL"}

    # What the reader sees of the base datasets anyway (a contact can name its company).
    seen: dict[str, str] = {}
    for role in READERS:
        base = await preview(client, people[role], customers)
        seen[role] = base.text + json.dumps(base.json(), ensure_ascii=False)
    private = values(rows, ["contactName", "phone", "fax"])
    hidden = {
        "viewer": {v for v in private if v not in seen["viewer"]},
        "editor": {
            v
            for v in values(
                [r for r in rows if r["country"] != "Germany"],
                ["customerID", "companyName", "contactName"],
            )
            if v not in seen["editor"]
        },
    }
    assert len(hidden["viewer"]) > 100 and len(hidden["editor"]) > 100
    assert "Maria Anders" in hidden["viewer"] and "ANATR" in hidden["editor"]
    return World(people, datasets, rows, hidden, private, stub)


# Running and reading ------------------------------------------------------------------------


@dataclass
class Made:
    """A query job of someone's, as they see its outcome."""

    status: int  # of the submission (202: accepted)
    code: str | None = None  # the refusal's error code
    job: str | None = None
    dataset: str | None = None
    version: int | None = None
    rows: list[dict[str, Any]] | None = None
    text: str = ""


def error_code(response: httpx.Response) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


async def result_of(client: httpx.AsyncClient, who: Account, job: str) -> Made:
    done = await wait_for(client, who, job, timeout_s=120)
    if done["state"] != "succeeded":
        return Made(status=202, code=(done["error"] or {}).get("code"), job=job, text=str(done))
    page = await client.get(
        f"/api/v1/jobs/{job}/result", params={"limit": 5000}, headers=who.headers()
    )
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["next_cursor"] is None and len(body["rows"]) == body["row_count"]
    return Made(
        status=202,
        job=job,
        dataset=done["result"]["dataset_id"],
        version=done["result"]["version"],
        rows=body["rows"],
        text=page.text,
    )


async def run(client: httpx.AsyncClient, who: Account, sql: str, name: str | None = None) -> Made:
    """``who``'s own query job of ``sql``: its answer, or why it was refused."""
    body: dict[str, Any] = {"kind": "query", "params": {"sql": sql}}
    if name is not None:
        body["name"] = name
    for _ in range(3):
        for _ in range(100):
            accepted = await client.post("/api/v1/jobs", json=body, headers=who.headers())
            # The free plan runs one job at a time: wait for the previous one to be done.
            if accepted.status_code != 429:
                break
            await asyncio.sleep(0.2)
        if accepted.status_code != 202:
            return Made(status=accepted.status_code, code=error_code(accepted), text=accepted.text)
        made = await result_of(client, who, accepted.json()["job_id"])
        # Test sessions running beside this one share Postgres, and their job supervisors pick
        # up every queued job (this one's too) on Ray heads of their own, which end with their
        # tests or run other code: such a job ends interrupted or crashed (never refused by a
        # policy, which is another code). Run it again.
        if made.code not in ("attempts_exhausted", "job_failed"):
            break
    return made


async def ask(client: httpx.AsyncClient, stub: OpenAIStub, who: Account, sql: str) -> Made:
    """``who``'s own answer to ``sql`` through Prompt Studio (the model, the stub, runs it with
    run_sql): how a viewer, who may not submit jobs, computes it itself."""
    stub.reset()
    stub.reply("stub", tool_calls=[("run_sql", {"sql": sql})])
    stub.reply("stub", content="Here it is.")
    response = await client.post(
        "/api/v1/prompts/execute", json={"question": "compute it"}, headers=who.headers()
    )
    assert response.status_code == 200, response.text
    [turn] = [t for t in response.json()["turns"] if t["tool"] == "run_sql"]
    if turn["status"] != "ok":
        return Made(status=403, code=(turn.get("error") or {}).get("code"), text=response.text)
    rows = turn["result"]["rows"]
    assert turn["result"]["row_count"] == len(rows), "truncated"
    return Made(status=200, rows=rows, text=response.text)


async def owners(client: httpx.AsyncClient, world: World, case: str, sql: str) -> Made:
    made = await run(client, world.people["owner"], sql, name=f"d_{case}")
    assert made.rows is not None, made.text
    assert made.rows, f"the owner's {case} result is empty: the case would prove nothing"
    await kept_profile(client, world.people["owner"], made)
    world.made[case] = made
    return made


async def kept_profile(client: httpx.AsyncClient, owner: Account, made: Made) -> None:
    """The owner profiles its result: the profile kept, of all its rows."""
    profiled = await client.post(
        f"/api/v1/datasets/{made.dataset}/profile", headers=owner.headers()
    )
    assert profiled.status_code == 200, profiled.text
    assert profiled.json()["profile"]["row_count"] == len(made.rows or [])


def parquet_rows(data: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    table = pq.read_table(io.BytesIO(data))
    rows = [{k: json_value(v) for k, v in r.items()} for r in table.to_pylist()]
    return table.column_names, rows


@dataclass
class Reads:
    """Everything a reader gets of one result dataset."""

    refused: dict[str, str] = field(default_factory=dict)  # path -> error code (a 403)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # path -> rows
    columns: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # path -> the row count it states
    texts: list[str] = field(default_factory=list)
    evaluated: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] | None = None


def _refusal(reads: Reads, path: str, response: httpx.Response) -> bool:
    reads.texts.append(response.text)
    if response.status_code == 403:
        reads.refused[path] = str(error_code(response))
        return True
    assert response.status_code == 200, (path, response.status_code, response.text)
    return False


async def read_everything(client: httpx.AsyncClient, who: Account, made: Made) -> Reads:
    assert made.job and made.dataset and made.version
    headers = who.headers()
    base = f"/api/v1/datasets/{made.dataset}"
    reads = Reads()

    result = await client.get(
        f"/api/v1/jobs/{made.job}/result", params={"limit": 5000}, headers=headers
    )
    if not _refusal(reads, "result", result):
        body = result.json()
        assert body["next_cursor"] is None, "more than one page"
        reads.rows["result"] = body["rows"]
        reads.columns["result"] = [c["name"] for c in body["columns"]]
        reads.counts["result"] = body["row_count"]

    shown = await client.get(f"{base}/preview", params={"limit": 1000}, headers=headers)
    if not _refusal(reads, "preview", shown):
        body = shown.json()
        reads.rows["preview"] = body["rows"]
        reads.columns["preview"] = [c["name"] for c in body["columns"]]
        reads.counts["preview"] = body["row_count"]

    download = await client.get(f"{base}/versions/{made.version}/download", headers=headers)
    if not _refusal(reads, "download", download):
        link = download.json()
        if link["credentials_required"]:
            got = await client.get(link["url"], headers=headers)
        else:  # presigned: the stored object itself
            async with httpx.AsyncClient(timeout=60) as plain:
                got = await plain.get(link["url"])
        assert got.status_code == 200, got.text
        reads.columns["download"], reads.rows["download"] = parquet_rows(got.content)
        reads.counts["download"] = link["row_count"]
        reads.texts.append(json.dumps(reads.rows["download"]))

    content = await client.get(f"{base}/versions/{made.version}/content", headers=headers)
    if content.status_code == 404:
        # On S3 the ungoverned content is the presigned object (read above).
        assert error_code(content) == "dataset_version_not_found", content.text
        assert "download" in reads.rows and download.json()["credentials_required"] is False
    elif not _refusal(reads, "content", content):
        reads.columns["content"], reads.rows["content"] = parquet_rows(content.content)
        reads.texts.append(json.dumps(reads.rows["content"]))

    # (Viewers may not make a profile; any reader gets one: of what it may see.)
    profiled = await client.get(f"{base}/profile", headers=headers)
    if not _refusal(reads, "profile", profiled):
        reads.profile = profiled.json()["profile"]

    evaluated = await client.post(
        "/api/v1/policies/evaluate", json={"dataset_id": made.dataset}, headers=headers
    )
    assert evaluated.status_code == 200, evaluated.text
    reads.evaluated = evaluated.json()
    return reads


# What may be shown ---------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def excess(shown: list[dict[str, Any]], own: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of ``shown`` beyond the multiset ``own``. A column of ``shown`` that is
    redacted (only ``****`` and nulls) compares by being null or not; one that is all null or
    all ``****`` (redacted whole) tells nothing, and compares with anything; a column ``own``
    lacks matches nothing."""
    if not shown:
        return []
    columns = list(shown[0])
    assert all(list(r) == columns for r in shown)
    redacted = {c for c in columns if {_cell(r[c]) for r in shown} <= {REDACTED, None}}
    blank = {c for c in redacted if len({r[c] for r in shown}) == 1}
    compared = [c for c in columns if c not in blank]
    missing = object()

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        cells = []
        for c in compared:
            value = row.get(c, missing)
            if c in redacted and value is not missing:
                value = None if value is None else REDACTED
            cells.append(missing if value is missing else _cell(value))
        return tuple(cells)

    left = Counter(key(r) for r in shown)
    left.subtract(Counter(key(r) for r in own))
    over = {k for k, n in left.items() if n > 0}
    return [r for r in shown if key(r) in over]


def leaked(texts: Sequence[str], hidden: set[str]) -> list[str]:
    """The hidden values that appear in any of ``texts`` (as sent, and as JSON with its
    non-ASCII characters escaped or not)."""
    forms = list(texts)
    for text in texts:
        try:
            forms.append(json.dumps(json.loads(text), ensure_ascii=False))
            forms.append(json.dumps(json.loads(text)))
        except ValueError:
            continue
    joined = "\n".join(forms)
    return sorted(v for v in hidden if v in joined)


@dataclass
class Outcome:
    role: str
    own: Made
    reads: Reads

    @property
    def denied(self) -> bool:
        return bool(self.reads.refused)

    @property
    def shown(self) -> list[dict[str, Any]]:
        return self.reads.rows["result"]


async def read_as(
    client: httpx.AsyncClient,
    world: World,
    made: Made,
    role: str,
    own_sql: str,
    expect: Expect,
) -> Outcome:
    """``role`` reads the owner's result ``made`` on every path; the checks of the module."""
    who = world.people[role]
    # Viewers may not submit jobs: their own run is an answer of Prompt Studio's run_sql.
    own = await (
        run(client, who, own_sql) if role == "editor" else ask(client, world.stub, who, own_sql)
    )
    reads = await read_everything(client, who, made)
    label = f"{role} on {made.dataset}"

    # Every path agrees; the evaluation says the same.
    if reads.refused:
        assert set(reads.refused) == {"result", "preview", "download", "content", "profile"}, (
            label,
            reads.refused,
            reads.texts,
        )
        assert set(reads.refused.values()) == {DERIVED}, (label, reads.refused)
        assert reads.evaluated["derived_denied"] is True, label
    else:
        assert reads.evaluated["derived_denied"] is False, label
        assert not reads.evaluated["denied"], label
        result = Counter(json.dumps(r, sort_keys=True) for r in reads.rows["result"])
        for path in ("preview", "download", "content"):
            if path in reads.rows:
                assert reads.columns[path] == reads.columns["result"], (label, path)
                got = Counter(json.dumps(r, sort_keys=True) for r in reads.rows[path])
                # (Every column dropped: Parquet keeps no rows without columns.)
                assert got == result or not reads.columns[path], (label, path)
        assert reads.counts["result"] == len(reads.rows["result"]), label
        assert reads.profile is not None
        if not reads.columns["result"]:
            assert reads.profile["columns"] == []  # (nothing to count the rows by)
        elif reads.evaluated["max_rows"] is None:
            assert reads.profile["row_count"] == len(reads.rows["result"]), label
        else:  # a profile is an aggregate (a row limit caps rows, not what they count)
            assert reads.profile["row_count"] >= len(reads.rows["result"]), label
        assert [c["name"] for c in reads.profile["columns"]] == reads.columns["result"], label

        # Contained in the reader's own answer (nothing shown that its own run lacks).
        assert own.rows is not None, (label, "own run refused", own.text)
        if own.rows:
            assert set(reads.columns["result"]) <= set(own.rows[0]), (label, own.rows[0])
        over = excess(reads.rows["result"], own.rows)
        assert over == [], (label, f"{len(over)} row(s) beyond the reader's own run", over[:5])
        # A column the policies mask is never shown raw.
        for column in reads.evaluated["masked"]:
            shown = {r.get(column) for r in reads.rows["result"]}
            assert not shown & world.raw_private, (label, column)

    # Nothing the reader's policies hide, in any response (unless its own answer has it).
    hidden = {v for v in world.hidden[role] if v not in own.text}
    assert hidden
    assert leaked(reads.texts, hidden) == [], label

    if expect == "denied":
        assert reads.refused, (label, "expected 403 derived_from_governed_data", reads.rows)
    elif expect == "shown":
        assert not reads.refused, (label, "expected the rows", reads.refused)
        assert reads.rows["result"], (label, "shown but empty: the case proves nothing")
    return Outcome(role, own, reads)


async def check(
    client: httpx.AsyncClient,
    world: World,
    case: str,
    sql: str,
    expect: dict[str, Expect],
    own_sql: dict[str, str] | None = None,
) -> dict[str, Outcome]:
    """The owner makes ``case`` with ``sql``; each reader reads it (see :func:`read_as`)."""
    made = await owners(client, world, case, sql)
    own_sql = own_sql or {}
    return {
        role: await read_as(client, world, made, role, own_sql.get(role, sql), expect[role])
        for role in READERS
    }


# 1. Renamed and computed columns ---------------------------------------------------------------

COLUMNS_SQL = (
    "SELECT customerID, country, contactName AS who, upper(contactName) AS shout, "
    "contactName || '' AS same, "
    "CASE WHEN country = 'Germany' THEN contactName END AS picked, "
    "substr(phone, 1, 3) AS prefix, phone AS tel, fax || '' AS faxed, companyName "
    "FROM customers"
)
# The viewer may not name the fax: its own run is the rest.
COLUMNS_OWN = COLUMNS_SQL.replace(", fax || '' AS faxed", "")


async def test_renamed_and_computed_columns(client: httpx.AsyncClient, world: World) -> None:
    seen = await check(
        client,
        world,
        "columns",
        COLUMNS_SQL,
        {"editor": "shown", "viewer": "shown"},
        {"viewer": COLUMNS_OWN},
    )
    # The editor: the row filter goes through (country is in the result as itself).
    editor = seen["editor"].shown
    germans = {r["customerID"] for r in world.customers if r["country"] == "Germany"}
    assert {r["customerID"] for r in editor} == germans and len(editor) == len(germans)
    by_id = {r["customerID"]: r for r in world.customers}
    assert all(r["who"] == by_id[r["customerID"]]["contactName"] for r in editor)
    assert all(r["faxed"] == by_id[r["customerID"]]["fax"] for r in editor)
    assert seen["editor"].reads.evaluated["row_filters"] == [
        {"column": "country", "op": "==", "value": "Germany"}
    ]
    # The viewer: a rename keeps the mask, computed columns are redacted, the fax's is gone.
    viewer = seen["viewer"]
    masked = viewer.reads.evaluated["masked"]
    assert masked == {
        "who": "redact",
        "shout": "redact",
        "same": "redact",
        "picked": "redact",
        "prefix": "redact",
        "tel": "hash",
    }
    # Computed ones whole: which rows are null would be computed from the hidden values.
    assert sorted(viewer.reads.evaluated["blanked"]) == ["picked", "prefix", "same", "shout"]
    assert viewer.reads.evaluated["denied_columns"] == ["faxed"]
    assert len(viewer.shown) == len(world.customers)
    assert viewer.reads.columns["result"] == [
        "customerID",
        "country",
        "who",
        "shout",
        "same",
        "picked",
        "prefix",
        "tel",
        "companyName",
    ]
    for row in viewer.shown:
        raw = by_id[row["customerID"]]
        assert row["who"] == row["shout"] == row["same"] == row["picked"] == REDACTED
        assert row["prefix"] == REDACTED and len(row["tel"]) == 16 and row["tel"] != raw["phone"]
    # The viewer's own run hashes the phones alike (the same workspace key).
    own = {r["customerID"]: r for r in viewer.own.rows or []}
    assert all(row["tel"] == own[row["customerID"]]["tel"] for row in viewer.shown)


async def test_a_computed_column_keeps_no_trace_of_a_masked_predicate(
    client: httpx.AsyncClient, world: World
) -> None:
    """Which rows a computed column is null in must not tell what the mask hides: redacted,
    ``CASE WHEN contactName LIKE 'A%' THEN ...`` would show which contacts start with A."""
    sql = (
        "SELECT customerID, country, CASE WHEN contactName LIKE 'A%' THEN contactName END "
        "AS a_contact, CASE WHEN contactName LIKE 'A%' THEN 'yes' END AS starts_with_a "
        "FROM customers"
    )
    seen = await check(client, world, "masked_predicate", sql, {"editor": "shown", "viewer": "any"})
    starting = [r for r in world.customers if (r["contactName"] or "").startswith("A")]
    assert 0 < len(starting) < len(world.customers)
    viewer = seen["viewer"]
    # Its own run compares '****' with 'A%': never. Either refused, or nothing tells them apart.
    assert viewer.own.rows and all(r["a_contact"] is None for r in viewer.own.rows)
    if not viewer.denied:
        for column in ("a_contact", "starts_with_a"):
            assert len({r[column] for r in viewer.shown}) == 1, column


@pytest.mark.parametrize(
    ("case", "sql"),
    [
        # The whole row as a value (the columns named elsewhere are loaded into it).
        (
            "row_as_json",
            "SELECT j FROM (SELECT to_json(c) AS j, c.contactName, c.phone, c.fax "
            "FROM customers c)",
        ),
        ("row_struct", "SELECT customers, contactName IS NULL AS none FROM customers"),
        # Columns chosen by a pattern.
        ("columns_pattern", "SELECT customerID, COLUMNS('contactN.*') FROM customers"),
        # A correlated scalar subquery of the same row.
        ("scalar_subquery", "SELECT customerID, (SELECT contactName) AS x FROM customers"),
        # The whole row inside an expression of a column the viewer sees.
        (
            "row_in_text",
            "SELECT country || to_json(c) AS z, c.contactName IS NULL AS none FROM customers c",
        ),
        # A struct holding the column.
        (
            "struct_field",
            "SELECT customerID, s.n FROM (SELECT customerID, {'n': contactName} "
            "AS s FROM customers)",
        ),
    ],
)
async def test_columns_sqlglot_cannot_trace_are_not_shown_raw(
    client: httpx.AsyncClient, world: World, case: str, sql: str
) -> None:
    """An answer column whose lineage names no base column but reads one (the whole row,
    ``COLUMNS(...)``, a correlated subquery) stands for every column it could read."""
    # The viewer may not name the fax: its own run is without it.
    own = sql.replace(", c.fax", "")
    seen = await check(
        client, world, case, sql, {"editor": "any", "viewer": "any"}, {"viewer": own}
    )
    assert leaked(seen["viewer"].reads.texts, {"Maria Anders", "Ana Trujillo"}) == []


# 2. Joins ------------------------------------------------------------------------------------

JOIN = "FROM orders o JOIN customers c ON o.customerID = c.customerID"


async def test_joins(client: httpx.AsyncClient, world: World) -> None:
    # The country kept as itself: the editor's filter goes through; the viewer's masks too.
    seen = await check(
        client,
        world,
        "join_kept",
        f"SELECT o.orderID, o.freight, c.customerID, c.country, c.contactName AS contact, "
        f"c.phone {JOIN}",
        {"editor": "shown", "viewer": "shown"},
    )
    editor = seen["editor"].shown
    assert editor and all(r["country"] == "Germany" for r in editor)
    assert Counter(json.dumps(r, sort_keys=True) for r in editor) == Counter(
        json.dumps(r, sort_keys=True) for r in seen["editor"].own.rows or []
    )
    assert len(seen["viewer"].shown) == len(world.made["join_kept"].rows or [])
    assert seen["viewer"].reads.evaluated["masked"] == {"contact": "redact", "phone": "hash"}

    # Without the country: the orders of other countries' customers cannot be told apart.
    await check(
        client,
        world,
        "join_dropped",
        f"SELECT o.orderID, o.shipCity, c.companyName {JOIN}",
        {"editor": "denied", "viewer": "shown"},
    )

    # An outer join from the orders: every order stays, the customers' side filtered.
    seen = await check(
        client,
        world,
        "join_left",
        "SELECT o.orderID, o.customerID AS orderedBy, c.country, c.companyName FROM orders o "
        "LEFT JOIN customers c ON o.customerID = c.customerID",
        {"editor": "shown", "viewer": "shown"},
    )
    assert all(r["country"] == "Germany" for r in seen["editor"].shown)

    # Joined on a masked column: which rows match tells about the contacts.
    await check(
        client,
        world,
        "join_on_masked",
        "SELECT o.orderID, c.customerID, c.country FROM orders o JOIN customers c "
        "ON o.shipName = c.contactName OR o.customerID = c.customerID",
        {"editor": "shown", "viewer": "denied"},
    )


@pytest.mark.parametrize(
    ("case", "sql"),
    [
        # The filtered relation read twice: the filter would hold for one side only.
        (
            "self_join",
            "SELECT a.country, b.customerID, b.companyName FROM customers a "
            "JOIN customers b ON a.customerID = 'ALFKI'",
        ),
        (
            "self_join_cte",
            "WITH g AS (SELECT * FROM customers) SELECT a.country, b.customerID "
            "FROM g a JOIN g b ON a.customerID = 'ALFKI'",
        ),
        (
            "other_row_subquery",
            "SELECT customerID, country, (SELECT x.companyName FROM "
            "customers x WHERE x.customerID = 'ANATR') AS other "
            "FROM customers",
        ),
        (
            "exists_elsewhere",
            "SELECT customerID, country FROM customers WHERE EXISTS "
            "(SELECT 1 FROM customers x WHERE x.country = 'Mexico')",
        ),
    ],
)
async def test_a_row_filter_holds_for_every_read_of_the_relation(
    client: httpx.AsyncClient, world: World, case: str, sql: str
) -> None:
    seen = await check(client, world, case, sql, {"editor": "any", "viewer": "shown"})
    editor = seen["editor"]
    assert editor.denied or not leaked(editor.reads.texts, {"ANATR", "Ana Trujillo"})


# 3. Aggregates -------------------------------------------------------------------------------


async def test_aggregates_over_filtered_rows(client: httpx.AsyncClient, world: World) -> None:
    seen = await check(
        client,
        world,
        "by_country",
        "SELECT country, count(*) AS customers FROM customers GROUP BY country",
        {"editor": "denied", "viewer": "shown"},
    )
    # The viewer's policies mask nothing it groups or counts: the owner's answer is its own.
    viewer = seen["viewer"]
    assert Counter(json.dumps(r, sort_keys=True) for r in viewer.shown) == Counter(
        json.dumps(r, sort_keys=True) for r in viewer.own.rows or []
    )
    assert sum(r["customers"] for r in viewer.shown) == len(world.customers)
    editor_own = seen["editor"].own.rows
    assert editor_own == [
        {
            "country": "Germany",
            "customers": len([r for r in world.customers if r["country"] == "Germany"]),
        }
    ]

    seen = await check(
        client,
        world,
        "total",
        "SELECT count(*) AS n FROM customers",
        {"editor": "denied", "viewer": "shown"},
    )
    assert seen["viewer"].shown == [{"n": len(world.customers)}]

    # Grouped by a masked column: the groups tell the hidden values apart.
    await check(
        client,
        world,
        "by_contact",
        "SELECT contactName, count(*) AS n FROM customers GROUP BY contactName",
        {"editor": "denied", "viewer": "denied"},
    )


# 4. Windows ----------------------------------------------------------------------------------


async def test_windows_over_filtered_rows(client: httpx.AsyncClient, world: World) -> None:
    await check(
        client,
        world,
        "numbered",
        "SELECT customerID, country, row_number() OVER (ORDER BY customerID) AS n FROM customers",
        {"editor": "denied", "viewer": "shown"},
    )
    seen = await check(
        client,
        world,
        "running",
        f"SELECT o.orderID, c.country, sum(o.freight) OVER (ORDER BY o.orderID) AS running {JOIN}",
        {"editor": "denied", "viewer": "shown"},
    )
    viewer = seen["viewer"]
    assert Counter(json.dumps(r, sort_keys=True) for r in viewer.shown) == Counter(
        json.dumps(r, sort_keys=True) for r in viewer.own.rows or []
    )
    # Ordered by a masked column: the numbers are its order.
    await check(
        client,
        world,
        "numbered_by_contact",
        "SELECT customerID, country, rank() OVER (ORDER BY contactName) AS n FROM customers",
        {"editor": "denied", "viewer": "denied"},
    )


# 5. Rows decided by a masked column ----------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "sql"),
    [
        ("where_masked", "SELECT customerID FROM customers WHERE contactName LIKE 'A%'"),
        (
            "where_alias",
            "SELECT customerID, country, contactName AS who FROM customers WHERE who LIKE 'A%'",
        ),
        (
            "order_alias",
            "SELECT customerID, country, contactName AS who FROM customers ORDER BY who",
        ),
        (
            "order_position",
            "SELECT customerID, country, contactName AS who FROM customers ORDER BY 3",
        ),
        ("order_all", "SELECT contactName AS who, customerID, country FROM customers ORDER BY ALL"),
        ("group_alias", "SELECT contactName AS who, count(*) AS n FROM customers GROUP BY who"),
        ("group_position", "SELECT contactName AS who, count(*) AS n FROM customers GROUP BY 1"),
        ("group_all", "SELECT contactName AS who, count(*) AS n FROM customers GROUP BY ALL"),
        (
            "order_shadowed",
            "WITH g AS (SELECT contactName AS country, customerID "
            "FROM customers) SELECT customerID FROM g ORDER BY country",
        ),
        (
            "order_in_subquery",
            "SELECT customerID, who FROM (SELECT customerID, contactName "
            "AS who FROM customers) ORDER BY who",
        ),
        ("order_by_row", "SELECT customerID, country FROM customers c ORDER BY c"),
        ("distinct", "SELECT DISTINCT contactName AS who FROM customers"),
        ("union", "SELECT contactName AS who FROM customers UNION SELECT 'nobody'"),
        (
            "natural_join",
            "SELECT c.customerID, c.country FROM customers c "
            "NATURAL JOIN (SELECT 'Maria Anders' AS contactName) AS m",
        ),
        (
            "filtered_count",
            "SELECT count(*) FILTER (WHERE contactName LIKE 'A%') AS n, "
            "count(*) AS everyone FROM customers",
        ),
    ],
)
async def test_rows_decided_by_a_masked_column_are_refused(
    client: httpx.AsyncClient, world: World, case: str, sql: str
) -> None:
    """Which rows, groups, or in which order: each tells what the mask hides."""
    await check(client, world, case, sql, {"editor": "any", "viewer": "denied"})


# 6. Derived of derived -----------------------------------------------------------------------


async def test_a_derived_dataset_of_a_derived_dataset(
    client: httpx.AsyncClient, world: World
) -> None:
    if "columns" not in world.made:
        await owners(client, world, "columns", COLUMNS_SQL)
    first = f"WITH d_columns AS ({COLUMNS_SQL}) "
    first_own = f"WITH d_columns AS ({COLUMNS_OWN}) "
    # The readers' own runs compute the same over the base datasets (the first step inlined).
    second = (
        "SELECT customerID, country, who AS contact, shout, tel, prefix FROM d_columns "
        "WHERE customerID < 'M'"
    )
    seen = await check(
        client,
        world,
        "second_rows",
        second,
        {"editor": "shown", "viewer": "shown"},
        {"editor": first + second, "viewer": first_own + second},
    )
    assert all(r["country"] == "Germany" for r in seen["editor"].shown)
    assert seen["viewer"].reads.evaluated["masked"] == {
        "contact": "redact",
        "shout": "redact",
        "tel": "hash",
        "prefix": "redact",
    }
    assert {r["contact"] for r in seen["viewer"].shown} == {REDACTED}

    grouped = "SELECT country, count(*) AS n FROM d_columns GROUP BY country"
    await check(
        client,
        world,
        "second_grouped",
        grouped,
        {"editor": "denied", "viewer": "shown"},
        {"editor": first + grouped, "viewer": first_own + grouped},
    )

    # Renamed again, then filtered on the masked column: still what the mask hides.
    picked = "SELECT customerID, country FROM d_columns WHERE who LIKE 'A%'"
    await check(
        client,
        world,
        "second_where",
        picked,
        {"editor": "shown", "viewer": "denied"},
        {"editor": first + picked, "viewer": first_own + picked},
    )

    # The fax's column, dropped for the viewer: a step later it is still not there.
    faxed = "SELECT customerID, country, faxed || '!' AS loud FROM d_columns"
    seen = await check(
        client,
        world,
        "second_fax",
        faxed,
        {"editor": "shown", "viewer": "shown"},
        {"editor": first + faxed, "viewer": "SELECT customerID, country FROM customers"},
    )
    assert seen["viewer"].reads.columns["result"] == ["customerID", "country"]

    # Over a result that is refused to the editor: so is everything made of it.
    if "by_country" not in world.made:
        await owners(
            client,
            world,
            "by_country",
            "SELECT country, count(*) AS customers FROM customers GROUP BY country",
        )
    total = "SELECT sum(customers) AS everyone FROM d_by_country"
    await check(
        client,
        world,
        "second_total",
        total,
        {"editor": "denied", "viewer": "shown"},
        {
            role: "WITH d_by_country AS (SELECT country, count(*) AS customers FROM customers "
            "GROUP BY country) " + total
            for role in READERS
        },
    )


# 7. Saved through Prompt Studio ---------------------------------------------------------------


async def saved_answer(
    client: httpx.AsyncClient, stub: OpenAIStub, world: World, sql: str, name: str
) -> Made:
    """The owner asks; the model (the stub) saves the answer; the owner confirms."""
    owner = world.people["owner"]
    stub.reset()
    stub.reply("stub", tool_calls=[("save_result", {"sql": sql, "name": name})])
    asked = await client.post(
        "/api/v1/prompts/execute", json={"question": f"keep {name}"}, headers=owner.headers()
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "awaiting_confirmation", asked.json()
    done = await client.post(
        f"/api/v1/prompts/executions/{asked.json()['id']}/confirm", headers=owner.headers()
    )
    assert done.status_code == 200, done.text
    [turn] = [t for t in done.json()["turns"] if t["tool"] == "save_result"]
    assert turn["status"] == "ok", turn
    made = await result_of(client, owner, turn["result"]["job_id"])
    assert made.rows, made.text
    await kept_profile(client, owner, made)
    listed = await client.get("/api/v1/datasets", params={"limit": 200}, headers=owner.headers())
    assert {d["id"] for d in listed.json()["items"] if d["name"] == name} == {made.dataset}
    world.made[name] = made
    return made


async def test_answers_saved_through_prompt_studio(
    client: httpx.AsyncClient, stub: OpenAIStub, world: World
) -> None:
    rows_sql = "SELECT customerID, companyName, contactName, phone, country FROM customers"
    made = await saved_answer(client, stub, world, rows_sql, "saved_contacts")
    assert len(made.rows or []) == len(world.customers)
    seen = {role: await read_as(client, world, made, role, rows_sql, "shown") for role in READERS}
    assert {r["country"] for r in seen["editor"].shown} == {"Germany"}
    assert seen["viewer"].reads.evaluated["masked"] == {"contactName": "redact", "phone": "hash"}
    assert {r["contactName"] for r in seen["viewer"].shown} <= {REDACTED, None}

    counted_sql = "SELECT country, count(*) AS n FROM customers GROUP BY country"
    made = await saved_answer(client, stub, world, counted_sql, "saved_counts")
    await read_as(client, world, made, "editor", counted_sql, "denied")
    await read_as(client, world, made, "viewer", counted_sql, "shown")

    picked_sql = "SELECT customerID, country FROM customers WHERE contactName LIKE 'M%'"
    made = await saved_answer(client, stub, world, picked_sql, "saved_picked")
    await read_as(client, world, made, "viewer", picked_sql, "denied")


# 8. A row limit on an input ------------------------------------------------------------------


async def test_a_row_limit_on_an_input_caps_every_path(
    client: httpx.AsyncClient, world: World
) -> None:
    sql = "SELECT productID, productName, unitPrice FROM products WHERE unitPrice > 10"
    seen = await check(client, world, "products", sql, {"editor": "shown", "viewer": "any"})
    made = world.made["products"]
    assert len(made.rows or []) > 3 * LIMIT
    assert len(seen["editor"].shown) == len(made.rows or [])
    viewer = seen["viewer"]
    assert viewer.own.rows is not None and len(viewer.own.rows) == LIMIT
    assert viewer.reads.evaluated["max_rows"] == LIMIT

    def capped(reads: Reads) -> None:
        """Every path that gives rows gives at most the limit's; the row counts of the job's
        result and of the download are of those rows. (The preview's row count and the profile
        are aggregates over all of them, as the viewer's own ``count(*)`` would be.)"""
        assert not reads.refused, reads.refused
        assert set(reads.rows) == {"result", "preview", "download", "content"}
        for path, rows in reads.rows.items():
            assert len(rows) == LIMIT, (path, len(rows))
        assert reads.counts["result"] == reads.counts["download"] == LIMIT

    capped(viewer.reads)
    # And a step later.
    again = "SELECT productName FROM d_products"
    seen = await check(
        client,
        world,
        "products_again",
        again,
        {"editor": "shown", "viewer": "any"},
        {role: f"WITH d_products AS ({sql}) {again}" for role in READERS},
    )
    capped(seen["viewer"].reads)


# Metadata ------------------------------------------------------------------------------------


async def test_the_metadata_of_a_refused_result_states_no_count_of_it(
    client: httpx.AsyncClient, world: World
) -> None:
    """The dataset's detail and the listing do not tell the viewer how many customers' contacts
    start with A, which every data path of the owner's result refuses it."""
    sql = "SELECT customerID FROM customers WHERE contactName LIKE 'A%'"
    made = world.made.get("where_masked") or await owners(client, world, "where_masked", sql)
    starting = len(made.rows or [])
    assert 0 < starting < len(world.customers)
    viewer = world.people["viewer"]
    own = await ask(client, world.stub, viewer, sql)
    assert own.rows == []  # '****' never starts with A
    refused = await client.get(f"/api/v1/datasets/{made.dataset}/preview", headers=viewer.headers())
    assert refused.status_code == 403 and error_code(refused) == DERIVED, refused.text

    detail = await client.get(f"/api/v1/datasets/{made.dataset}", headers=viewer.headers())
    listed = await client.get("/api/v1/datasets", params={"limit": 500}, headers=viewer.headers())
    assert listed.status_code == 200, listed.text
    counts: list[int] = [d["row_count"] for d in listed.json()["items"] if d["id"] == made.dataset]
    if detail.status_code == 200:
        counts += [detail.json()["row_count"], *(v["row_count"] for v in detail.json()["versions"])]
    else:
        assert detail.status_code == 403 and error_code(detail) == DERIVED, detail.text
    assert starting not in counts, counts
