"""The web client in a real browser: a person's whole journey (register, upload a CSV, make a
dataset and see its profile charts, ask a prompt, start a job and watch it reach 100% from live
events, open its result), a second person in another workspace who sees none of it, and the
error paths (a wrong password, an upload too large for the one-request path). No page of the
journey logs a console error."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from tests.browser.conftest import (
    ConsoleLog,
    Requests,
    horizontal_overflow,
    screenshot,
    severe_violations,
)
from tests.browser.platform import Platform
from tests.conftest import SHARED_DATA
from tests.integration.test_cli import rivergen

pytestmark = pytest.mark.timeout(240)

ORDERS = "rivergen/samples/shop/orders.csv"
PASSWORD = "a long enough password"
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# What the journey leaves for the second person to (not) see.
shared: dict[str, Any] = {}


@pytest.fixture
async def context(browser: Browser, platform: Platform) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(base_url=platform.base, viewport=LAPTOP)  # type: ignore[arg-type]
    ctx.set_default_timeout(30_000)
    try:
        yield ctx
    finally:
        await ctx.close()


async def register(page: Page, name: str) -> str:
    email = f"{name}-{secrets.token_hex(4)}@example.com"
    await page.goto("/")
    await page.get_by_role("tab", name="Create account").click()
    form = page.get_by_role("form", name="Create account")
    await form.get_by_label("Name", exact=True).fill(name.title())
    await form.get_by_label("Email", exact=True).fill(email)
    await form.get_by_label("Password", exact=True).fill(PASSWORD)
    await form.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    await expect(page.get_by_role("status", name="Live")).to_be_attached()  # the socket is up
    return email


async def go(page: Page, link: str) -> None:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()
    await expect(page.get_by_role("heading", level=1)).to_be_visible()


async def test_the_whole_journey(context: BrowserContext) -> None:
    log = ConsoleLog()
    page = log.watch(await context.new_page())
    shared["email"] = await register(page, "ada")
    await screenshot(page, "01-datasets-empty")

    # Upload the shop's orders through the direct multipart path.
    await go(page, "Files")
    await page.get_by_label("Files to upload", exact=True).set_input_files(ORDERS)
    upload = page.get_by_role("list", name="Uploads").get_by_role("listitem").first
    await expect(upload).to_have_attribute("data-state", "done")
    await expect(upload.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    await expect(page.get_by_role("cell", name="orders.csv")).to_be_visible()
    await screenshot(page, "02-files")

    # A dataset from it, then its profile's charts.
    await expect(page.get_by_label("Dataset name for orders.csv", exact=True)).to_have_value(
        "orders"
    )
    await page.get_by_role("button", name="Make dataset").click()
    await expect(page.get_by_role("heading", name="orders", level=1)).to_be_visible(timeout=60_000)
    shared["dataset_url"] = page.url
    await expect(page.get_by_role("cell", name="amount", exact=True)).to_be_visible()
    await page.get_by_role("tab", name="Preview").click()
    await expect(page.get_by_role("region", name="Preview").get_by_role("row")).to_have_count(51)
    await page.get_by_role("tab", name="Profile").click()
    await page.get_by_role("button", name="Profile this dataset").click()
    await expect(
        page.get_by_role("img", name=re.compile(r"^Null rate by column: order_id 0%"))
    ).to_be_visible(timeout=60_000)
    await expect(page.get_by_role("img", name=re.compile(r"^Histogram of amount"))).to_be_visible()
    await expect(
        page.get_by_role("img", name=re.compile(r"^Top values of status: "))
    ).to_be_visible()
    await screenshot(page, "03-dataset-profile")
    await page.get_by_role("tab", name="Quality").click()
    await page.get_by_label("Column", exact=True).select_option("order_id")
    await page.get_by_label("Rule", exact=True).select_option("unique")
    await page.get_by_role("button", name="Check").click()
    await expect(page.get_by_role("status").filter(has_text="Passed")).to_be_visible()
    await page.get_by_role("tab", name="Lineage").click()
    await expect(page.get_by_text(re.compile(r"^file .* \(")).first).to_be_visible()

    # Catalog search finds it.
    await go(page, "Datasets")
    await page.get_by_role("searchbox", name="Search the catalog").fill("orders amount")
    await page.get_by_role("button", name="Search").click()
    await expect(
        page.get_by_role("list", name="Search results").get_by_role("link", name="orders")
    ).to_be_visible()
    await screenshot(page, "04-datasets")

    # Prompt Studio answers with a table, its SQL and its plan.
    await go(page, "Prompt Studio")
    await page.get_by_label("Question", exact=True).fill("how many orders were shipped")
    await page.get_by_role("button", name="Ask", exact=True).click()
    answer = page.get_by_role("region", name="Answer table")
    await expect(answer).to_be_visible(timeout=60_000)
    await expect(answer.get_by_role("row")).to_have_count(2)
    await expect(page.get_by_label("SQL", exact=True)).to_contain_text("SELECT")
    await screenshot(page, "05-prompt-studio")
    # A write waits for confirmation in a dialog.
    question = page.get_by_label("Question", exact=True)
    await question.fill("how many orders were shipped and save as shipped_orders")
    await page.get_by_role("button", name="Ask", exact=True).click()
    dialog = page.get_by_role("dialog", name="Confirm changes")
    await expect(dialog).to_be_visible(timeout=60_000)
    await expect(dialog).to_contain_text("shipped_orders")
    await screenshot(page, "05b-prompt-confirm")
    await dialog.get_by_role("button", name="Confirm").click()
    await expect(dialog).to_be_hidden()
    last = page.get_by_role("list", name="Conversation").get_by_role("listitem").last
    await expect(last.locator("[data-status]")).to_have_attribute(
        "data-status", "completed", timeout=60_000
    )
    # Saved prompts.
    await question.fill("how many customers are there")
    await page.get_by_role("button", name="Save prompt").click()
    saved = page.get_by_role("complementary", name="Prompts")
    await expect(
        saved.get_by_role("button", name="how many customers are there", exact=True)
    ).to_be_visible()

    # A job whose progress bar reaches 100% from live events only (the page never polls).
    await go(page, "Jobs")
    await page.get_by_label("Kind", exact=True).fill("sleep")
    await page.get_by_label("Parameters (JSON)", exact=True).fill(
        json.dumps({"seconds": 2, "steps": 4})
    )
    await page.get_by_role("button", name="Start job").click()
    job = page.get_by_role("list", name="Jobs").get_by_role("listitem").first
    bar = job.get_by_role("progressbar")
    await expect(bar).to_have_attribute("aria-valuenow", "0")
    await expect(bar).to_have_attribute("aria-valuenow", "50", timeout=60_000)
    await expect(bar).to_have_attribute("aria-valuenow", "100", timeout=60_000)
    await expect(job).to_have_attribute("data-state", "succeeded")
    await screenshot(page, "06-jobs")
    await job.get_by_role("link").click()
    await page.get_by_role("button", name="Open result").click()
    await expect(page.get_by_role("region", name="Result rows").get_by_role("row")).to_have_count(5)
    await screenshot(page, "07-job-result")

    # A query job's result comes with a chart.
    await go(page, "Jobs")
    await page.get_by_label("Kind", exact=True).fill("query")
    await page.get_by_label("Dataset", exact=True).select_option(label="orders")
    query = {
        "group_by": ["status"],
        "aggregates": [{"function": "sum", "column": "amount", "alias": "total"}],
    }
    params = json.loads(await page.get_by_label("Parameters (JSON)", exact=True).input_value())
    await page.get_by_label("Parameters (JSON)", exact=True).fill(
        json.dumps({"dataset": params["dataset"], **query})
    )
    await page.get_by_role("button", name="Start job").click()
    job = page.get_by_role("list", name="Jobs").get_by_role("listitem").first
    await expect(job.get_by_role("link")).to_contain_text("query")
    await expect(job).to_have_attribute("data-state", "succeeded", timeout=60_000)
    await job.get_by_role("link").click()
    await page.get_by_role("button", name="Open result").click()
    await expect(page.get_by_role("img", name=re.compile(r"^total by status: "))).to_be_visible()
    await screenshot(page, "08-query-result")

    # The notifications corner got the job's and the upload's events.
    await page.get_by_role("button", name=re.compile(r"^Notifications")).click()
    await expect(page.get_by_role("list", name="Notifications")).to_contain_text("completed")
    await screenshot(page, "09-notifications")

    # A policy on the dataset, listed, then deleted.
    await go(page, "Policies")
    policy_form = page.get_by_role("form", name="New policy")
    await policy_form.get_by_label("Name", exact=True).fill("mask-channel")
    await policy_form.get_by_label("Dataset", exact=True).select_option(label="orders")
    await policy_form.get_by_label("Rule (JSON)", exact=True).fill(
        json.dumps({"type": "mask", "columns": ["channel"], "method": "redact"})
    )
    await page.get_by_role("button", name="Create policy").click()
    await expect(page.get_by_role("cell", name="mask-channel", exact=True)).to_be_visible()
    await page.get_by_role("button", name="Delete policy mask-channel").click()
    await expect(page.get_by_role("cell", name="mask-channel", exact=True)).to_have_count(0)

    for link in ("Data sources", "Policies", "Audit log", "Billing", "Workspace"):
        await go(page, link)
        await screenshot(page, f"10-{link.lower().replace(' ', '-')}")
    await expect(page.get_by_role("heading", name=re.compile("^Workspace"))).to_be_visible()
    members = page.get_by_role("form", name="Add a member")
    await members.get_by_label("Email", exact=True).fill("newcomer@example.com")
    await members.get_by_label("Role", exact=True).select_option("editor")
    await members.get_by_role("button", name="Add member").click()
    added = page.get_by_role("status").filter(has_text="newcomer@example.com")
    await expect(added).to_contain_text("invited as editor")
    await (
        page.get_by_role("form", name="Create an API key")
        .get_by_label("Name", exact=True)
        .fill("ci")
    )
    await page.get_by_role("button", name="Create key").click()
    await expect(page.get_by_role("status").filter(has_text="shown once")).to_be_visible()
    await go(page, "Audit log")
    await expect(page.get_by_role("region", name="Audit entries")).to_contain_text("POST")

    # A second workspace: the switcher moves to it, and back.
    await go(page, "Workspace")
    await (
        page.get_by_role("form", name="Create a workspace")
        .get_by_label("Name", exact=True)
        .fill("Team")
    )
    await page.get_by_role("button", name="Create workspace").click()
    chosen = page.locator("select[aria-label=Workspace] option:checked")
    await expect(chosen).to_have_text("Team (owner)")
    await go(page, "Datasets")
    await expect(page.get_by_text("No datasets yet")).to_be_visible()
    await page.get_by_label("Workspace", exact=True).select_option(label="Personal (owner)")
    await expect(page.get_by_role("link", name="orders", exact=True)).to_be_visible()

    # Phone width: the menu folds away and opens from its button.
    await page.set_viewport_size(PHONE)
    await expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    await page.get_by_role("button", name="Menu").click()
    await go(page, "Jobs")
    await screenshot(page, "11-phone-jobs")

    assert log.errors == []


async def test_another_workspace_sees_none_of_it(context: BrowserContext) -> None:
    assert shared, "runs after the journey"
    page = await context.new_page()
    await register(page, "bob")
    await expect(page.get_by_text("No datasets yet")).to_be_visible()
    await go(page, "Files")
    await expect(page.get_by_role("cell", name="orders.csv")).to_have_count(0)
    await go(page, "Jobs")
    await expect(page.get_by_role("list", name="Jobs").get_by_role("listitem")).to_have_count(0)
    await go(page, "Prompt Studio")
    await expect(page.get_by_role("complementary", name="Prompts")).not_to_contain_text("shipped")
    await page.goto(shared["dataset_url"])
    await expect(page.get_by_role("alert")).to_contain_text("dataset_not_found")
    await screenshot(page, "12-other-workspace")


async def test_error_paths(context: BrowserContext) -> None:
    assert shared, "runs after the journey"
    page = await context.new_page()
    await page.goto("/")
    form = page.get_by_role("form", name="Sign in")
    # By keyboard only: type, Tab to the password, Enter submits.
    await form.get_by_label("Email", exact=True).focus()
    await page.keyboard.type(shared["email"])
    await page.keyboard.press("Tab")
    await page.keyboard.type("not the password")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("alert")).to_contain_text("invalid_credentials")
    await screenshot(page, "13-wrong-password")

    await form.get_by_label("Password", exact=True).fill(PASSWORD)
    await form.get_by_role("button", name="Sign in").click()
    await go(page, "Files")
    await page.get_by_label("Small file in one request (no resume)", exact=True).check()
    await page.get_by_label("Files to upload", exact=True).set_input_files(
        {"name": "big.csv", "mimeType": "text/csv", "buffer": b"a,b\n" + b"1,2\n" * 4096}
    )
    await expect(page.get_by_role("alert")).to_contain_text("upload_too_large")
    await screenshot(page, "14-upload-too-large")

    # A data source may not reach this machine: its schema is refused, and it can be deleted.
    await go(page, "Data sources")
    source = page.get_by_role("form", name="Add a data source")
    await source.get_by_label("Name", exact=True).fill("loopback")
    config = {"kind": "http_csv", "url": "http://127.0.0.1:9/orders.csv"}
    await source.get_by_label("Configuration", exact=False).fill(json.dumps(config))
    await page.get_by_role("button", name="Add", exact=True).click()
    await expect(page.get_by_role("cell", name="loopback", exact=True)).to_be_visible()
    await page.get_by_role("button", name="Discover schema").click()
    await expect(page.get_by_role("alert")).to_contain_text("destination_not_allowed")
    await screenshot(page, "15-data-source-refused")
    await page.get_by_role("button", name="Delete data source loopback").click()
    await expect(page.get_by_role("cell", name="loopback", exact=True)).to_have_count(0)


async def run_job(http: httpx.AsyncClient) -> str:
    """A short job through the API (not the page); its id once it has succeeded and its
    completion is kept for catching up."""
    job = await http.post("/api/v1/jobs", json={"kind": "sleep", "params": {"seconds": 0.2}})
    assert job.status_code == 202, job.text
    job_id: str = job.json()["job_id"]
    for _ in range(300):
        kept = (await http.get("/api/v1/notifications", params={"limit": 500})).json()["items"]
        if any(n["event"] == "job.completed" and n["data"]["job_id"] == job_id for n in kept):
            return job_id
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not complete")


async def test_notifications_missed_while_away_are_caught_up(
    context: BrowserContext, platform: Platform
) -> None:
    log = ConsoleLog()
    page = log.watch(await context.new_page())
    await register(page, "cy")
    token = await page.evaluate("JSON.parse(localStorage.getItem('rivergen.session')).access")
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=platform.base, headers=headers, timeout=30) as http:
        seen = await run_job(http)  # live, while the page is open
        corner = page.get_by_role("button", name=re.compile(r"^Notifications"))
        await corner.click()
        notifications = page.get_by_role("list", name="Notifications")
        await expect(notifications).to_contain_text(f"Job {seen[:8]} completed")
        await page.close()  # the socket goes with it
        missed = await run_job(http)
    page = log.watch(await context.new_page())
    await page.goto("/")
    await expect(
        page.get_by_role("button", name=re.compile(r"^Notifications, [1-9]"))
    ).to_be_visible()
    await page.get_by_role("button", name=re.compile(r"^Notifications")).click()
    notifications = page.get_by_role("list", name="Notifications")
    await expect(notifications).to_contain_text(f"Job {missed[:8]} completed")
    await expect(notifications).not_to_contain_text(seen[:8])  # before the cursor: not again
    await screenshot(page, "16-caught-up")
    assert log.errors == []


async def test_a_dropped_connection_reconnects_and_catches_up(
    context: BrowserContext, platform: Platform
) -> None:
    page = await context.new_page()
    await register(page, "dee")
    token = await page.evaluate("JSON.parse(localStorage.getItem('rivergen.session')).access")
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=platform.base, headers=headers, timeout=30) as http:
        await context.set_offline(True)
        await expect(page.get_by_role("status", name="Reconnecting")).to_be_attached(timeout=30_000)
        missed = await run_job(http)  # the test's own client is not offline
        await context.set_offline(False)
    await expect(page.get_by_role("status", name="Live")).to_be_attached(timeout=30_000)
    await page.get_by_role("button", name=re.compile(r"^Notifications")).click()
    notifications = page.get_by_role("list", name="Notifications")
    await expect(notifications).to_contain_text(f"Job {missed[:8]} completed")
    await screenshot(page, "17-reconnected")


async def test_an_interrupted_upload_resumes_after_a_reload(
    context: BrowserContext, tmp_path: Path
) -> None:
    big = tmp_path / "events.csv"
    row = b"2024-01-01T00:00:00,some event text,12345\n"
    big.write_bytes(b"at,what,n\n" + row * ((17 * 1024 * 1024) // len(row)))  # two parts
    page = await context.new_page()
    await register(page, "eve")
    await go(page, "Files")

    async def cut(route: Route) -> None:
        await route.abort("connectionreset")

    await page.route(re.compile(r"/api/v1/storage/parts/.+/2$"), cut)  # part 2 never arrives
    await page.get_by_label("Files to upload", exact=True).set_input_files(big)
    upload = page.get_by_role("list", name="Uploads").get_by_role("listitem").first
    await expect(upload).to_have_attribute("data-state", "failed", timeout=60_000)
    await page.unroute(re.compile(r"/api/v1/storage/parts/.+/2$"))

    await page.reload()
    await expect(page.get_by_role("note")).to_contain_text("events.csv")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/storage/parts/" in r.url else None)
    await page.get_by_label("Files to upload", exact=True).set_input_files(big)
    upload = page.get_by_role("list", name="Uploads").get_by_role("listitem").first
    await expect(upload).to_have_attribute("data-state", "done", timeout=60_000)
    await expect(upload).to_contain_text("(resumed)")
    assert [url.rsplit("/", 1)[1] for url in sent] == ["2"]  # part 1 is not sent again
    await expect(page.get_by_role("cell", name="events.csv")).to_be_visible()
    await screenshot(page, "18-upload-resumed")


PRODUCTS = SHARED_DATA / "northwind" / "products.csv"
CUSTOMERS = "rivergen/samples/shop/customers.csv"
MODEL_FEATURES = ("unitPrice", "unitsInStock", "unitsOnOrder", "reorderLevel")


def shifted_products() -> bytes:
    """Northwind's products with prices five times higher: a drift on `unitPrice` only."""
    with PRODUCTS.open(newline="") as source:
        rows = list(csv.DictReader(source))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "unitPrice": f"{float(row['unitPrice']) * 5:.2f}"})
    return out.getvalue().encode()


async def make_dataset(page: Page, files: Any, name: str) -> str:
    """Upload a file on the Files page and make a dataset of it; the dataset page's URL."""
    await go(page, "Files")
    await page.get_by_label("Files to upload", exact=True).set_input_files(files)
    file_name = files["name"] if isinstance(files, dict) else Path(files).name
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=file_name, exact=True))
    await row.get_by_label(f"Dataset name for {file_name}", exact=True).fill(name)
    await row.get_by_role("button", name="Make dataset").click()
    await expect(page.get_by_role("heading", name=name, level=1)).to_be_visible(timeout=60_000)
    return page.url


async def test_the_agents_pages(context: BrowserContext, platform: Platform) -> None:
    """Models (train, versions, deploy, predict), monitoring (a drifted feature named), a
    decision overruled by a hard limit, a governance scan with its proposals decided, the
    operations page (retry a cancelled job), and the workspace's members."""
    log = ConsoleLog()
    page = log.watch(await context.new_page())
    email = await register(page, "ida")
    shared["products_url"] = await make_dataset(page, str(PRODUCTS), "products")
    await make_dataset(
        page,
        {"name": "products_2025.csv", "mimeType": "text/csv", "buffer": shifted_products()},
        "products_2025",
    )
    await make_dataset(page, CUSTOMERS, "customers")

    # Train a classifier of `discontinued` on four numeric columns; progress from live events.
    await go(page, "Models")
    form = page.get_by_role("form", name="Train a model")
    await form.get_by_label("Model name", exact=True).fill("discontinued")
    await form.get_by_label("Dataset", exact=True).select_option(label="products")
    await form.get_by_label("Target", exact=True).select_option("discontinued")
    for column in MODEL_FEATURES:
        await form.get_by_label(column, exact=True).check()
    await form.get_by_role("button", name="Train").click()
    training = page.get_by_role("status", name="Training")
    await expect(training.get_by_role("progressbar")).to_have_attribute(
        "aria-valuenow", "100", timeout=90_000
    )
    await screenshot(page, "20-models")
    await page.get_by_role("link", name="discontinued", exact=True).first.click()
    await expect(page.get_by_role("heading", name="Model discontinued")).to_be_visible()
    versions = page.get_by_role("region", name="Versions")
    await expect(versions.get_by_role("columnheader", name="accuracy")).to_be_visible()
    # Each candidate (L2 and L1) is a version; the better one is the champion: deploy it.
    champion = versions.get_by_role("row").filter(has_text="champion")
    await champion.get_by_role("button", name=re.compile(r"^Deploy version")).click()
    await expect(champion.get_by_role("cell", name="yes", exact=True)).to_be_visible()
    shared["model_url"] = page.url
    predict = page.get_by_role("form", name="Predict")
    case = {"unitPrice": 18.0, "unitsInStock": 0, "unitsOnOrder": 0, "reorderLevel": 0}
    await predict.get_by_label("Rows (JSON)", exact=True).fill(json.dumps([case]))
    await predict.get_by_role("button", name="Predict").click()
    await expect(page.get_by_role("region", name="Predictions").get_by_role("row")).to_have_count(2)
    await expect(
        page.get_by_role(
            "img", name=re.compile(r"^Contributions to the score of row 1: .*unitPrice=18 ")
        )
    ).to_be_visible()
    await screenshot(page, "21-model")

    # Monitoring: the same data is stable; the repriced data drifts on unitPrice alone.
    await page.get_by_role("link", name="Monitoring", exact=True).last.click()
    check = page.get_by_role("form", name="Check against a dataset")
    await check.get_by_label("Dataset", exact=True).select_option(label="products")
    await check.get_by_role("button", name="Run check").click()
    drifted = page.get_by_role("status", name="Drifted features")
    await expect(drifted).to_have_text("No feature drifted.", timeout=60_000)
    await check.get_by_label("Dataset", exact=True).select_option(label="products_2025")
    await check.get_by_role("button", name="Run check").click()
    await expect(drifted).to_contain_text("Drifted features: unitPrice", timeout=60_000)
    await expect(
        page.get_by_role("img", name=re.compile(r"^Drift score \(PSI\) by feature: .*unitPrice"))
    ).to_be_visible()
    await expect(page.get_by_role("img", name=re.compile(r"^Drift over runs"))).to_be_visible()
    await screenshot(page, "22-monitoring")

    # Decisions: a guideline set whose hard limit declines a large stock, whatever the score.
    await go(page, "Decisions")
    guideline = {
        "name": "stock rules",
        "limits": [
            {
                "name": "overstocked",
                "outcome": "decline",
                "when": {"feature": "unitsInStock", "op": "gt", "value": 100},
            }
        ],
    }
    await page.get_by_label("Guideline set (JSON)", exact=True).fill(json.dumps(guideline))
    await page.get_by_role("button", name="Add guideline set").click()
    await expect(page.get_by_text(re.compile(r"limits: overstocked"))).to_be_visible()
    evaluate = page.get_by_role("form", name="Evaluate a case")
    await evaluate.get_by_label("Features (JSON)", exact=True).fill(
        json.dumps({**case, "unitsInStock": 120})
    )
    await evaluate.get_by_role("button", name="Evaluate").click()
    outcome = page.get_by_role("status", name="Outcome")
    await expect(outcome).to_contain_text("decline", timeout=30_000)
    await expect(page.get_by_role("list", name="Limits hit")).to_contain_text("overstocked")
    await expect(
        page.get_by_role("img", name=re.compile(r"^Largest feature contributions"))
    ).to_be_visible()
    await expect(
        page.get_by_role("img", name=re.compile(r"^Outcomes of the kept decisions"))
    ).to_be_visible()
    shared["decision_url"] = page.url
    await screenshot(page, "23-decision")

    # Governance: the customers' emails are tagged (their made-up phone numbers are not valid
    # numbers); its masking proposal is approved and becomes a policy.
    await go(page, "Governance")
    scan = page.get_by_role("form", name="Scan a dataset")
    await scan.get_by_label("Dataset", exact=True).select_option(label="customers")
    await scan.get_by_role("button", name="Scan").click()
    tagged = page.get_by_role("region", name="Tagged columns")
    await expect(tagged.get_by_role("row").filter(has_text="email")).to_contain_text(
        "editor, viewer", timeout=60_000
    )
    await expect(page.get_by_role("status", name="Scan result")).to_contain_text(
        "1 masking policy proposed"
    )
    await page.get_by_role("button", name="Approve masking email").click()
    await expect(page.get_by_role("button", name="Approve masking email")).to_have_count(0)
    await page.get_by_label("Show proposals", exact=True).select_option("approved")
    decided = page.get_by_role("region", name="Proposals").get_by_role("row").nth(1)
    await expect(decided).to_contain_text("email")
    await expect(decided).to_contain_text("approved")
    await screenshot(page, "24-governance")
    await go(page, "Policies")
    await expect(page.get_by_role("cell", name=re.compile("email"))).not_to_have_count(0)

    # Operations: health, the one node, no Serve here; a cancelled job is retried.
    token = await page.evaluate("JSON.parse(localStorage.getItem('rivergen.session')).access")
    async with httpx.AsyncClient(
        base_url=platform.base, headers={"authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        started = await http.post(
            "/api/v1/jobs",
            json={"kind": "sleep", "name": "nap", "params": {"seconds": 30, "steps": 30}},
        )
        job_id = started.json()["job_id"]
        await http.post(f"/api/v1/jobs/{job_id}/cancel")
        for _ in range(200):
            if (await http.get(f"/api/v1/jobs/{job_id}")).json()["state"] == "cancelled":
                break
            await asyncio.sleep(0.05)
    # The cluster's data is for platform operators: this person is made one.
    granted = rivergen("operators", "add", email)
    assert granted.returncode == 0, granted.stderr
    await page.reload()
    await go(page, "Operations")
    await expect(page.get_by_role("status", name="Platform health")).to_be_visible(timeout=30_000)
    await expect(page.get_by_role("region", name="Nodes").get_by_role("row")).to_have_count(2)
    await expect(page.get_by_role("status", name="Serve")).to_contain_text("not running")
    await expect(
        page.get_by_role("img", name=re.compile(r"^Resources in use: .*CPU \d"))
    ).to_be_visible()
    await screenshot(page, "25-operations")
    await page.get_by_role("button", name=f"Retry job {job_id[:8]}").click()
    await expect(page.get_by_role("heading", name="Job nap")).to_be_visible()
    assert job_id not in page.url
    shared["job_url"] = page.url
    # Its page follows it live: cancelled from its button.
    await expect(page.get_by_role("status").filter(has_text="running")).to_be_visible()
    await page.get_by_role("button", name="Cancel").click()
    await expect(page.get_by_role("status").filter(has_text="cancelled")).to_be_visible(
        timeout=30_000
    )

    # Members and roles.
    await go(page, "Workspace")
    members = page.get_by_role("region", name="Members and roles")
    await expect(members.get_by_role("row").filter(has_text=email)).to_contain_text("owner")
    await screenshot(page, "26-members")
    shared["agents_email"] = email
    assert log.errors == []


ROUTES = (
    "files",
    "datasets",
    "sources",
    "jobs",
    "prompts",
    "models",
    "monitoring",
    "decisions",
    "governance",
    "policies",
    "audit",
    "billing",
    "operations",
    "workspace",
)


async def test_every_page_is_accessible_on_a_laptop_and_a_phone(context: BrowserContext) -> None:
    """axe-core finds no serious or critical violation on any page (with the data the agents'
    test left), at 1280 px and at 390 px; no page scrolls sideways; on a phone the menu opens
    and holds every link. A screenshot of each page at each width."""
    assert shared.get("agents_email"), "runs after the agents' pages"
    log = ConsoleLog()
    page = log.watch(await context.new_page())
    requests = Requests(page)
    await page.goto("/")
    problems: list[str] = [f"sign-in: {v}" for v in await severe_violations(page)]
    await page.get_by_role("tab", name="Create account").click()
    problems += [f"create account: {v}" for v in await severe_violations(page)]
    await page.get_by_role("tab", name="Sign in").click()
    form = page.get_by_role("form", name="Sign in")
    await form.get_by_label("Email", exact=True).fill(shared["agents_email"])
    await form.get_by_label("Password", exact=True).fill(PASSWORD)
    await form.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    details = [
        shared[k].split("#", 1)[1] for k in ("products_url", "model_url", "decision_url", "job_url")
    ]
    paths = [f"/{route}" for route in ROUTES] + details
    for width, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        await page.set_viewport_size(viewport)  # type: ignore[arg-type]
        for path in paths:
            await page.evaluate(f"location.hash = {json.dumps(path)}")
            await expect(page.get_by_role("heading", level=1)).to_be_visible()
            await requests.settled()
            name = path.strip("/").split("/")[0] + ("-detail" if path.count("/") > 1 else "")
            problems += [f"{width} {path}: {v}" for v in await severe_violations(page)]
            if overflow := await horizontal_overflow(page):
                problems.append(f"{width} {path}: {overflow}")
            await screenshot(page, f"a11y-{width}-{name}")
    await page.get_by_role("button", name=re.compile(r"^Notifications")).click()
    await expect(page.get_by_role("list", name="Notifications")).to_be_visible()
    problems += [f"phone notifications: {v}" for v in await severe_violations(page)]
    await page.get_by_role("button", name=re.compile(r"^Notifications")).click()
    # On a phone the menu folds away, opens from its button and holds every page.
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav).to_be_hidden()
    await page.get_by_role("button", name="Menu").click()
    # Every page of ROUTES, and the semantic layer's (swept with a layer in test_semantic_page).
    await expect(nav.get_by_role("link")).to_have_count(len(ROUTES) + 1)
    problems += [f"phone menu: {v}" for v in await severe_violations(page)]
    await screenshot(page, "a11y-phone-menu")
    await nav.get_by_role("link", name="Operations").click()
    await expect(nav).to_be_hidden()
    await expect(page.get_by_role("heading", name="Operations", level=1)).to_be_visible()
    assert problems == [], "\n".join(problems)
    assert log.errors == []
