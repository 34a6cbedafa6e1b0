"""Browser tests: the real app served by uvicorn (relayer, anchorer and indexer running) on the session anvil,
an SQLite database per test, and Debian's chromium driven by Playwright for Python.

Chromium comes from the system (`apt-get install chromium`; `make test` installs it when missing), never from
Playwright's own downloads. `CONSENT_E2E_CHROMIUM` points at another binary.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_support import BrowserWallet, Server, serve_app
from eth_account import Account
from eth_account.signers.local import LocalAccount
from playwright.sync_api import Browser, Page, expect, sync_playwright

from waiting import UI_TIMEOUT_MS

CHROMIUM = os.environ.get("CONSENT_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 900}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives the web pages in a real browser (chromium + Playwright)")
    expect.set_options(timeout=UI_TIMEOUT_MS)  # expect()'s bound; `open_page` gives actions the same


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`; `make test` does it) "
            "or point CONSENT_E2E_CHROMIUM at a Chromium binary",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def server(chain, tmp_path: Path) -> Iterator[Server]:
    """The real app on a free port, serving the web pages at `/`, with its background workers."""
    with serve_app(chain, tmp_path) as served:
        yield served


@pytest.fixture
def wallet_for(chain) -> Callable[..., BrowserWallet]:
    """A test wallet for an account (a fresh one when none is given)."""

    def make(account: LocalAccount | None = None, **options: Any) -> BrowserWallet:
        return BrowserWallet(account or Account.create(), chain.rpc, **options)

    return make


@dataclass
class PageErrors:
    messages: list[str]


@pytest.fixture
def open_page(browser: Browser, server: Server) -> Iterator[Callable[..., Page]]:
    """Open a page of the app in its own browser context (its own sessionStorage), with an optional wallet.

    Every uncaught script error and every Content-Security-Policy violation fails the test at teardown.
    """
    contexts = []
    errors = PageErrors([])

    def open_(path: str = "/", wallet: BrowserWallet | None = None, viewport: dict[str, int] | None = None) -> Page:
        context = browser.new_context(viewport=viewport or DESKTOP, base_url=server.url, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.on("pageerror", lambda error: errors.messages.append(f"{path}: uncaught {error}"))
        page.on(
            "console",
            lambda message: (
                errors.messages.append(f"{path}: {message.text}") if "Content Security Policy" in message.text else None
            ),
        )
        if wallet is not None:
            wallet.install(page)
        page.goto(path)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors.messages == [], "script errors or CSP violations in the page"
