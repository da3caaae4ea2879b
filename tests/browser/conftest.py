"""Browser fixtures: the app served on a local port, driven by Debian's headless Chromium."""

import os

import pytest
from playwright.sync_api import sync_playwright

from tests.requirements import need

CHROMIUM = "/usr/bin/chromium"
# Headless, as root, and without any traffic of Chromium's own to the internet.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000  # a page of this app answers in milliseconds; fail fast, not after 30 s


@pytest.fixture
def backend() -> str:
    """Browser tests run on SQLite only: they test pages, not the database backends."""
    return "sqlite"


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium per test session (per xdist worker)."""
    need(os.path.exists(CHROMIUM), "Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser, live_server):
    """Opens browser contexts (fresh cookies) aimed at the live server; closed after the test.

    Defaults: Polish locale, relative URLs resolved against the live server.
    """
    contexts = []

    def open_context(**options):
        options.setdefault("locale", "pl-PL")
        options.setdefault("base_url", live_server)
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    """A page in a new browser context of its own (locale pl-PL)."""
    return new_context().new_page()
