"""The semantic layer's page in the browser: empty, then drafted from the catalog (names split,
a 0/1 column a boolean), edited (a measure added), saved, refused with the entry named when a
measure does not bind, confirmed; accessible at a laptop's and a phone's width."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import ConsoleLog, horizontal_overflow, screenshot, severe_violations
from tests.browser.platform import Platform
from tests.browser.test_web_journey import LAPTOP, PHONE, go, register

PRODUCTS = b"""productID,productName,unitPrice,discontinued
1,Chai,18.0,0
2,Chang,19.0,1
3,Aniseed Syrup,10.0,0
"""
ORDER_DETAILS = b"""orderID,productID,unitPrice,quantity,discount
10248,1,18.0,12,0
10248,2,19.0,10,0.1
10249,3,10.0,5,0
"""


@pytest.fixture
async def context(browser: Browser, platform: Platform) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(base_url=platform.base, viewport=LAPTOP)  # type: ignore[arg-type]
    ctx.set_default_timeout(30_000)
    try:
        yield ctx
    finally:
        await ctx.close()


async def dataset(http: httpx.AsyncClient, name: str, data: bytes, profile: bool) -> None:
    upload = await http.post(
        "/api/v1/storage/upload", files={"file": (f"{name}.csv", data, "text/csv")}
    )
    assert upload.status_code == 201, upload.text
    made = await http.post("/api/v1/datasets", json={"name": name, "file_id": upload.json()["id"]})
    assert made.status_code == 201, made.text
    if profile:
        profiled = await http.post(f"/api/v1/datasets/{made.json()['id']}/profile")
        assert profiled.status_code == 200, profiled.text


async def no_problems(page: Page, where: str) -> list[str]:
    found = [f"{where}: {v}" for v in await severe_violations(page)]
    overflow = await horizontal_overflow(page)
    return found + ([f"{where}: {overflow}"] if overflow else [])


async def test_draft_edit_save_and_confirm_in_the_page(
    context: BrowserContext, platform: Platform
) -> None:
    log = ConsoleLog()
    page = log.watch(await context.new_page())
    await register(page, "modeler")
    session: dict[str, Any] = await page.evaluate(
        "JSON.parse(localStorage.getItem('rivergen.session'))"
    )
    headers = {
        "Authorization": f"Bearer {session['access']}",
        "X-Workspace-ID": session["workspace"],
    }
    async with httpx.AsyncClient(base_url=platform.base, headers=headers, timeout=120) as http:
        await dataset(http, "products", PRODUCTS, profile=True)
        await dataset(http, "order_details", ORDER_DETAILS, profile=False)

    await go(page, "Semantic layer")
    await expect(page.get_by_text("No semantic layer yet")).to_be_visible()
    problems = await no_problems(page, "empty")
    await page.get_by_role("button", name="Draft from the catalog").click()
    status = page.get_by_role("status", name="Current version")
    await expect(status).to_contain_text("Version 1: draft")
    await expect(status).to_contain_text("not in use yet")
    await page.locator("summary", has_text="products").click()  # open the dataset's details
    await expect(page.get_by_label("Business name of products.unitPrice")).to_have_value(
        "unit price"
    )
    await expect(page.get_by_label("Role of products.discontinued")).to_have_value("boolean")
    await expect(page.get_by_label("True values of products.discontinued")).to_have_value("1")
    await expect(page.get_by_text("order_details.productID → products.productID")).to_be_visible()
    problems += await no_problems(page, "drafted")

    # A measure that does not bind is refused, the entry named.
    form = page.get_by_role("form", name="Add a measure")
    await form.get_by_label("Name", exact=True).fill("broken")
    await form.get_by_label("Dataset", exact=True).select_option("order_details")
    await form.get_by_label("Expression", exact=True).fill("unitPrice * weight")
    await form.get_by_role("button", name="Add measure").click()
    await page.get_by_role("button", name="Save as a new version").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("semantic_invalid")
    await expect(alert).to_contain_text("weight")
    await expect(page.get_by_text("At measures[")).to_be_visible()
    await page.get_by_role("button", name="Remove measure broken").click()

    # The revenue measure (the draft's one replaced by the person's), saved and confirmed.
    await page.get_by_role("button", name="Remove measure revenue").click()
    await form.get_by_label("Name", exact=True).fill("revenue")
    await form.get_by_label("Dataset", exact=True).select_option("order_details")
    await form.get_by_label("Expression", exact=True).fill("unitPrice * quantity * (1 - discount)")
    await form.get_by_label("Synonyms", exact=True).fill("sales, turnover")
    await form.get_by_role("button", name="Add measure").click()
    await page.get_by_role("button", name="Save as a new version").click()
    await expect(status).to_contain_text("Version 2: draft")
    await expect(page.get_by_label("Synonyms of measure revenue")).to_have_value("sales, turnover")
    await page.get_by_role("button", name="Confirm version 2").click()
    await expect(status).to_contain_text("Version 2: confirmed")
    await expect(status).to_contain_text("in use by the prompts")
    versions = page.get_by_role("region", name="Versions")
    await expect(versions.get_by_role("row")).to_have_count(3)  # the header and two versions
    await expect(versions.get_by_role("row").nth(1)).to_contain_text("2 (in use)")
    await screenshot(page, "40-semantic-layer")
    problems += await no_problems(page, "confirmed")
    await page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    problems += await no_problems(page, "phone")
    await screenshot(page, "41-semantic-layer-phone")
    assert problems == []
    # The browser logs the answers the page expects and shows: 404 before there is a layer,
    # 422 for the measure that does not bind. Nothing else.
    url = f"at {{'url': '{platform.base}/api/v1/semantic-layer'"
    expected = [
        f"status of {status} {url}"
        for status in (
            "404 (Not Found)",
            "422 (Unprocessable Entity)",
            "422 (Unprocessable Content)",
        )
    ]
    assert [e for e in log.errors if not any(x in e for x in expected)] == []
