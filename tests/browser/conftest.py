"""Browser tests: the platform in one process (see platform.py) and Debian's Chromium driven by
Playwright (no browser download). Screenshots go to tests/browser/screenshots/ (git-ignored)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
import redis.asyncio as aioredis
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    async_playwright,
)

from rivergen.db import MigrationRunner
from rivergen.settings import Settings, load_settings
from tests.browser.platform import Platform, launch_options

PORT = 23501
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
# A Redis database of the suite's own on the shared Redis App server: its embedded event bus
# (Redis streams) and its sessions see nothing of anyone else's.
REDIS_DB = 13


@pytest.fixture(scope="module")
def web_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The environment of the platform and of Ray's workers (they inherit it)."""
    if not os.environ.get("RIVERGEN_POSTGRES__DSN"):
        pytest.fail("RIVERGEN_POSTGRES__DSN not set: export the services' environment")
    saved = dict(os.environ)
    for name in (
        "RIVERGEN_KAFKA__BOOTSTRAP_SERVERS",
        "RIVERGEN_S3__ENDPOINT_URL",
        "RIVERGEN_S3__BUCKET",
    ):
        os.environ.pop(name, None)
    redis_url = os.environ.get("RIVERGEN_REDIS_APP__URL", "redis://127.0.0.1:6379/0")
    os.environ.update(
        {
            "RIVERGEN_DATA_DIR": str(tmp_path_factory.mktemp("platform")),
            "RIVERGEN_REDIS_APP__URL": f"{redis_url.rsplit('/', 1)[0]}/{REDIS_DB}",
            "RIVERGEN_SOCKETS__CHANNEL": f"socketio-browser-{secrets.token_hex(4)}",
            "RIVERGEN_JOBS__TEST_KINDS": "true",
            "RIVERGEN_STORAGE__FORM_UPLOAD_MAX_BYTES": "4096",
            "RIVERGEN_GATEWAY__RATE_LIMIT": "false",
        }
    )
    try:
        yield load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


async def forget_sign_in_failures(settings: Settings) -> None:
    """Every browser signs in from 127.0.0.1: the wrong passwords of earlier runs (within the
    throttle's 15 minutes) would block this run's sign-ins. Only the suite's own database."""
    assert settings.redis_app.url is not None
    client = aioredis.from_url(settings.redis_app.url.get_secret_value())
    try:
        async for key in client.scan_iter(match="rl:login:*"):
            await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
async def platform(web_settings: Settings) -> AsyncIterator[Platform]:
    assert web_settings.postgres.migrate_dsn is not None
    await MigrationRunner(web_settings.postgres.migrate_dsn.get_secret_value()).apply()
    await forget_sign_in_failures(web_settings)
    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False)
    try:
        async with Platform(web_settings, PORT) as running:
            yield running
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


@pytest.fixture(scope="module")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    browser = await playwright.chromium.launch(**launch_options())
    try:
        yield browser
    finally:
        await browser.close()


class ConsoleLog:
    """Every console message of type error and every uncaught page error."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} at {message.location}")


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# axe-core's impacts that fail a page (minor and moderate ones are reported by axe, not here).
SEVERE = ("serious", "critical")


_AXE = Axe()


async def severe_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each.
    axe-core goes into the document once (the client changes pages without reloading)."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(_AXE.axe_script)
    violations: list[dict[str, Any]] = await page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then((r) => r.violations)"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v.get("impact") in SEVERE
    ]


# What sticks out past the window's right edge (innermost boxes, as "tag.class"); when that is
# nothing, a positioned box escaped a scrolled ancestor that is not its containing block: name
# the boxes whose content is wider than they are.
_OVERFLOWING = """() => {
  const limit = document.documentElement.clientWidth + 0.5;
  const name = (el) => `${el.tagName.toLowerCase()}.${el.className}`;
  const clipped = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (style.overflowX !== "visible" && p.getBoundingClientRect().right <= limit) return true;
    }
    return false;
  };
  const all = [...document.querySelectorAll("body *")];
  const out = all.filter((el) => el.getBoundingClientRect().right > limit && !clipped(el));
  const inner = out.filter((el) => !out.some((o) => o !== el && el.contains(o)));
  if (inner.length) return inner.slice(0, 3).map(name);
  const wide = all.filter((el) => el.scrollWidth > el.clientWidth + 1);
  return wide.slice(-3).map((el) => `${name(el)} (scrolls ${el.scrollWidth - el.clientWidth} px)`);
}"""


async def horizontal_overflow(page: Page) -> str | None:
    """None when the page is no wider than its window; else by how much, and what sticks out."""
    width: int = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if width <= 0:
        return None
    culprits: list[str] = await page.evaluate(_OVERFLOWING)
    return f"{width} px wider than the window: {culprits}"


class Requests:
    """The page's requests in flight, to wait until a page has loaded what it shows."""

    def __init__(self, page: Page) -> None:
        self.open: set[Request] = set()
        page.on("request", lambda r: self.open.add(r))
        page.on("requestfinished", lambda r: self.open.discard(r))
        page.on("requestfailed", lambda r: self.open.discard(r))

    async def settled(self, quiet_s: float = 0.15, timeout_s: float = 15) -> None:
        """Until no request has been in flight for ``quiet_s``."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        quiet_since: float | None = None
        while (now := asyncio.get_running_loop().time()) < deadline:
            if self.open:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= quiet_s:
                return
            await asyncio.sleep(0.03)
        raise AssertionError(f"requests still open: {[r.url for r in self.open]}")
