"""Invitations and members in the browser: an invitee accepts an invitation and joins; the
owner changes the member's role, makes them the owner and gets it back, and removes them; the
last owner cannot leave (the refusal is shown); a person who is not an operator sees no
cluster data, an operator does. No console error, and the page stays accessible."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import ConsoleLog, horizontal_overflow, screenshot, severe_violations
from tests.browser.platform import Platform
from tests.browser.test_web_journey import LAPTOP, PASSWORD, go, register
from tests.integration.test_cli import rivergen

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
async def context(browser: Browser, platform: Platform) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(base_url=platform.base, viewport=LAPTOP)  # type: ignore[arg-type]
    ctx.set_default_timeout(30_000)
    try:
        yield ctx
    finally:
        await ctx.close()


async def token_of(page: Page) -> str:
    token: str = await page.evaluate("JSON.parse(localStorage.getItem('rivergen.session')).access")
    return token


async def test_invite_accept_change_remove_and_the_last_owner_stays(
    context: BrowserContext, platform: Platform
) -> None:
    log = ConsoleLog()
    owner_page = log.watch(await context.new_page())
    owner_email = await register(owner_page, "olga")
    invitee_context = await context.browser.new_context(  # type: ignore[union-attr]
        base_url=platform.base, viewport=LAPTOP
    )
    try:
        invitee_page = log.watch(await invitee_context.new_page())
        invitee_email = await register(invitee_page, "ivan")

        # Olga invites Ivan from the Workspace page: he is not a member yet.
        await go(owner_page, "Workspace")
        form = owner_page.get_by_role("form", name="Add a member")
        await form.get_by_label("Email", exact=True).fill(invitee_email)
        await form.get_by_label("Role", exact=True).select_option("editor")
        await form.get_by_role("button", name="Add member").click()
        await expect(
            owner_page.get_by_role("status").filter(has_text=invitee_email)
        ).to_contain_text("they join once they accept")
        members = owner_page.get_by_role("region", name="Members and roles")
        await expect(members.get_by_role("row").filter(has_text=invitee_email)).to_have_count(0)

        # Ivan accepts it on his Workspace page and can switch to Olga's workspace.
        await go(invitee_page, "Workspace")
        invitations = invitee_page.get_by_role("list", name="Pending invitations")
        await expect(invitations).to_contain_text("Olga invites you to Personal as editor")
        await screenshot(invitee_page, "30-invitation")
        await invitee_page.get_by_role("button", name="Accept the invitation to Personal").click()
        await expect(
            invitee_page.get_by_role("status").filter(has_text="You joined")
        ).to_be_visible()
        switcher = invitee_page.get_by_label("Workspace", exact=True)
        await expect(switcher.locator("option", has_text="(editor)")).to_have_count(1)
        olgas = await switcher.locator("option", has_text="(editor)").get_attribute("value")
        assert olgas

        # Olga sees him, makes him a viewer, then removes him.
        await owner_page.reload()
        await go(owner_page, "Workspace")
        row = members.get_by_role("row").filter(has_text=invitee_email)
        await expect(row).to_contain_text("editor")
        await owner_page.get_by_label(f"Role of {invitee_email}", exact=True).select_option(
            "viewer"
        )
        await expect(row).to_contain_text("viewer")
        await screenshot(owner_page, "31-members-managed")
        violations = await severe_violations(owner_page)
        assert violations == [], violations
        assert await horizontal_overflow(owner_page) is None
        # Olga makes Ivan the owner: she is an admin then. Ivan hands it back (he is an admin
        # then), and Olga, owner again, removes him.
        await owner_page.get_by_role("button", name=f"Make {invitee_email} the owner").click()
        await expect(row).to_contain_text("owner")
        olga = members.get_by_role("row").filter(has_text=owner_email)
        await expect(olga).to_contain_text("admin")
        await invitee_page.reload()
        await go(invitee_page, "Workspace")
        await switcher.select_option(value=olgas)
        await invitee_page.get_by_role("button", name=f"Make {owner_email} the owner").click()
        await owner_page.reload()
        await go(owner_page, "Workspace")
        await expect(olga).to_contain_text("owner")
        await expect(row).to_contain_text("admin")
        await owner_page.get_by_role("button", name=f"Remove {invitee_email}").click()
        await expect(row).to_have_count(0)

        # The last owner cannot leave: the refusal is shown, and she is still the owner.
        await owner_page.get_by_role("button", name="Leave this workspace").click()
        await expect(owner_page.get_by_role("alert")).to_contain_text("at least one owner")
        await expect(members.get_by_role("row").filter(has_text=owner_email)).to_contain_text(
            "owner"
        )

        # Operations: no cluster data for an owner; an operator sees the health.
        await go(owner_page, "Operations")
        await expect(owner_page.get_by_text("for platform operators")).to_be_visible()
        await expect(owner_page.get_by_role("status", name="Platform health")).to_have_count(0)
        granted = rivergen("operators", "add", owner_email)
        assert granted.returncode == 0, granted.stderr
        await owner_page.reload()
        await go(owner_page, "Operations")
        await expect(owner_page.get_by_role("status", name="Platform health")).to_be_visible(
            timeout=30_000
        )
        async with httpx.AsyncClient(base_url=platform.base, timeout=30) as http:
            login = await http.post(
                "/api/v1/auth/login", json={"email": invitee_email, "password": PASSWORD}
            )
            headers = {"authorization": f"Bearer {login.json()['access_token']}"}
            refused = await http.get("/api/v1/operations/cluster", headers=headers)
            assert refused.status_code == 403
        assert await token_of(owner_page)
    finally:
        await invitee_context.close()
    # A removed member's failed reads, a refused leave: expected 4xx, not console errors of
    # the client's own.
    assert [e for e in log.errors if "status of 40" not in e] == [], log.errors
