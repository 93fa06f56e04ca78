"""End-to-end tests of the web pages in a real browser: Playwright (Python) driving Debian's Chromium (`apt-get
install chromium`, launched by its path: no browser download), against a live gongji server on a loopback port.
Each test saves screenshots under var/screenshots/ (the README shows three of them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.api.server import LiveServer

SCREENSHOTS = Path("var") / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Browser:
    if CHROMIUM is None:
        raise RuntimeError("the browser tests need Debian's Chromium: apt-get install chromium (./dev test does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def site(engine, book) -> str:
    """The base address of a live server on the test's database."""
    with LiveServer(engine, book) as server:
        yield server.url


@pytest.fixture
def page(browser: Browser) -> Page:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    context.close()


def shot(page: Page, name: str, full_page: bool = True) -> Path:
    """Save a screenshot of the page as var/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
