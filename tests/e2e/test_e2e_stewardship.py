"""The public stewardship page in real Chromium (issue 12 item 2): on a seeded history, without a wallet, its
charts are drawn, every number it shows is the report command's, its downloads are the same figures, and it
works on a phone-sized screen and with the keyboard. Screenshots go to build/e2e-screenshots/."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import drawn_pixels, shot, shot_part, shown
from playwright.sync_api import Browser, Page, expect

from consent_ledger.api.app import create_app
from consent_ledger.chain.devnet import free_port
from consent_ledger.cli.main import main
from consent_ledger.stewardship.tables import to_csv
from live_server import app_in_thread
from stewardship_support import History, seeded_history
from waiting import UI_TIMEOUT_MS

pytestmark = [pytest.mark.e2e, pytest.mark.chain]
PHONE = {"width": 390, "height": 844}
CHARTS = ["chart-grants", "chart-purposes", "chart-categories", "chart-releases", "chart-insights"]


@pytest.fixture(scope="module")
def history(artifacts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    with seeded_history(tmp_path_factory.mktemp("history"), artifacts, days=8, customers=8) as world:
        yield world


@pytest.fixture(scope="module")
def site(history: History) -> Iterator[tuple[str, Any]]:
    port = free_port()
    app = create_app(history.settings, run_relayer=False)  # a still chain: the page and the report see one block
    with app_in_thread(app, port):
        yield f"http://127.0.0.1:{port}", app.state.context


@pytest.fixture
def visit(browser: Browser, site: tuple[str, Any]) -> Iterator[Any]:
    contexts, errors = [], []

    def open_(path: str, viewport: dict[str, int] | None = None) -> Page:
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}, base_url=site[0])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.on("pageerror", lambda error: errors.append(f"uncaught {error}"))
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(path)
        if "brand=" in path:
            expect(page.locator("body[data-loaded]")).to_have_count(1)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], "script errors or CSP violations in the page"


def report(history: History, context: Any, brand: str, block: int, tmp: Path) -> dict[str, Any]:
    log = history.export_log(context, tmp / "log.jsonl")
    out = tmp / "report.json"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(
            [
                "stewardship",
                "report",
                "--brand",
                brand,
                "--rpc",
                history.chain.rpc.url,
                "--log",
                str(log),
                "--as-of",
                str(block),
            ]
        )
    assert code == 0
    out.write_text(buffer.getvalue())
    return dict(json.loads(buffer.getvalue()))


def value_at(figures: Any, path: str) -> Any:
    for part in path.split("."):
        figures = figures[int(part)] if isinstance(figures, list) else figures[part]
    return figures


DATE_TICK = re.compile(r"[A-Z][a-z]{2} \d{1,2}")  # "Nov 24" (the browser runs in en-US), never "12pm"


def assert_ticks_by_date(page: Page) -> None:
    """Every daily chart's x axis is labelled by date only, each label a distinct day."""
    daily = page.locator("figure.chart[data-x-ticks]")
    assert daily.count() >= 1
    for n in range(daily.count()):
        ticks = (daily.nth(n).get_attribute("data-x-ticks") or "").split("|")
        assert ticks != [""], "no ticks"
        assert all(DATE_TICK.fullmatch(t) for t in ticks), ticks
        assert len(set(ticks)) == len(ticks), ticks


def test_the_page_shows_the_report_commands_numbers(visit, history: History, site, tmp_path: Path) -> None:
    brand = history.brands["acme"]
    page = visit(f"/stewardship.html?brand={brand}")
    assert page.evaluate("typeof window.ethereum") == "undefined"  # no wallet anywhere
    block = int(page.locator("body").get_attribute("data-loaded") or "0")
    recomputed = report(history, site[1], brand, block, tmp_path)
    figures = page.locator("[data-figure]")
    assert figures.count() == 18  # every figure the page prints
    for n in range(figures.count()):
        node = figures.nth(n)
        path, value = node.get_attribute("data-figure") or "", node.get_attribute("data-value")
        assert value == shown(value_at(recomputed, path)), path
    expect(page.locator("#title")).to_have_text("Stewardship: Acme Outdoor")
    expect(page.locator("#summary")).to_contain_text("the log verifies")
    for chart in CHARTS:
        expect(page.locator(f"#{chart}[data-drawn='true'] canvas").first).to_be_visible()
        assert drawn_pixels(page, chart) > 500, chart
    assert_ticks_by_date(page)
    with page.expect_download() as got:
        page.locator("#download-json").click()
    assert json.loads(Path(got.value.path()).read_text()) == recomputed
    with page.expect_download() as got:
        page.locator("#download-csv").click()
    assert Path(got.value.path()).read_text() == to_csv(recomputed)
    shot(page, "stewardship-desktop")
    shot_part(page.locator("#chart-grants"), "stewardship-grants-chart")


def test_the_page_on_a_phone(visit, history: History) -> None:
    page = visit(f"/stewardship.html?brand={history.brands['lumen']}", viewport=PHONE)
    for chart in CHARTS:
        expect(page.locator(f"#{chart}[data-drawn='true']")).to_have_count(1)
        box = page.locator(f"#{chart} canvas").first.bounding_box()
        assert box is not None
        assert box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_ticks_by_date(page)  # on a narrow axis too: fewer ticks, still whole days
    page.locator("#chart-grants summary").click()
    expect(page.locator("#chart-grants details table")).to_be_visible()
    shot(page, "stewardship-phone")


def test_the_page_with_the_keyboard(visit, history: History) -> None:
    page = visit("/stewardship.html")
    expect(page.locator("#brand-pick option")).to_have_count(1 + len(history.brands))
    order = []
    for _ in range(12):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
    assert order.index("brand-pick") < order.index("pick-btn")
    page.locator("#brand-pick").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("body[data-loaded]")).to_have_count(1)
    expect(page.locator("#title")).to_have_text("Stewardship: Acme Outdoor")
    targets: list[str] = []
    while "SUMMARY" not in targets and len(targets) < 60:  # on to the first chart's numbers
        page.keyboard.press("Tab")
        targets.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
    assert targets.index("download-json") < targets.index("download-csv") < targets.index("compare-link")
    assert targets[-1] == "SUMMARY"  # each chart's numbers open from the keyboard
    page.keyboard.press("Enter")
    expect(page.locator("details[open] table").first).to_be_visible()
    shot(page, "stewardship-keyboard")


@pytest.mark.parametrize("start", ["/", "/brand.html", "/auditor.html"])
def test_every_page_links_to_the_public_page(visit, start: str) -> None:
    page = visit(start)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Stewardship").click()
    expect(page).to_have_url(re.compile(r"/stewardship\.html$"))
    expect(page.get_by_role("link", name="Stewardship")).to_have_attribute("aria-current", "page")
