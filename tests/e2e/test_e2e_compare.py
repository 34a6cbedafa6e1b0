"""The compare page in real Chromium (issue 12 item 2, "brands side by side on the same figures"): on a seeded
history, without a wallet, every number of its table is that brand's own figures at the page's one block, its
charts are drawn, its downloads are the same comparison, and it works with the keyboard and on a phone-sized
screen. Screenshots go to build/e2e-screenshots/ with the others."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import drawn_pixels, shot, shot_part, shown
from playwright.sync_api import Browser, Page, expect

from consent_ledger.api.app import create_app
from consent_ledger.chain.devnet import free_port
from consent_ledger.stewardship.comparison import to_csv
from live_server import app_in_thread
from stewardship_support import History, seeded_history
from waiting import UI_TIMEOUT_MS

pytestmark = [pytest.mark.e2e, pytest.mark.chain]
PHONE = {"width": 390, "height": 844}
ROWS = 17  # figures per brand in the table


@pytest.fixture(scope="module")
def history(artifacts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    with seeded_history(tmp_path_factory.mktemp("history"), artifacts, days=8, customers=8) as world:
        yield world


@pytest.fixture(scope="module")
def site(history: History) -> Iterator[str]:
    port = free_port()
    app = create_app(history.settings, run_relayer=False)
    with app_in_thread(app, port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def visit(browser: Browser, site: str) -> Iterator[Any]:
    contexts, errors = [], []

    def open_(path: str, viewport: dict[str, int] | None = None, *, loaded: bool = True) -> Page:
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}, base_url=site)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.on("pageerror", lambda error: errors.append(f"uncaught {error}"))
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(path)
        if loaded:
            expect(page.locator("body[data-loaded]")).to_have_count(1)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], "script errors or CSP violations in the page"


def query(brands: list[str]) -> str:
    return "&".join(f"brand={b}" for b in brands)


def value_at(figures: Any, path: str) -> Any:
    for part in path.split("."):
        if figures is None:
            return None
        figures = figures[int(part)] if isinstance(figures, list) else figures[part]
    return figures


def charts_of(count: int) -> list[str]:
    fixed = ["chart-share", "chart-median", "chart-worst", "chart-given", "chart-revoked", "chart-epsilon"]
    return [*fixed, "chart-queries", *(f"chart-purposes-{n}" for n in range(count))]


def test_the_table_shows_each_brands_own_figures(visit, history: History, site: str) -> None:
    brands = list(history.brands.values())
    page = visit(f"/compare.html?{query(brands)}")
    assert page.evaluate("typeof window.ethereum") == "undefined"  # no wallet anywhere
    block = int(page.locator("body").get_attribute("data-loaded") or "0")
    own = {b: httpx.get(f"{site}/v1/stewardship/{b}", params={"as_of": block}).json() for b in brands}
    cells = page.locator("#side-by-side td[data-figure]")
    assert cells.count() == ROWS * len(brands)
    for n in range(cells.count()):
        cell = cells.nth(n)
        path, brand = cell.get_attribute("data-figure") or "", cell.get_attribute("data-brand") or ""
        assert cell.get_attribute("data-value") == shown(value_at(own[brand], path)), (brand, path)
    headers = page.locator("#side-by-side thead th").all_inner_texts()
    assert headers[0].strip() == "Figure"
    assert "Acme Outdoor" in [h.strip() for h in headers]
    expect(page.locator("#log-line")).to_contain_text("the log verifies")
    for chart in charts_of(len(brands)):
        expect(page.locator(f"#{chart}[data-drawn='true'] canvas").first).to_be_visible()
        assert drawn_pixels(page, chart) > 500, chart
    compared = httpx.get(f"{site}/v1/stewardship/compare?{query(brands)}&as_of={block}").json()
    with page.expect_download() as got:
        page.locator("#download-json").click()
    assert json.loads(Path(got.value.path()).read_text()) == compared
    with page.expect_download() as got:
        page.locator("#download-csv").click()
    text = Path(got.value.path()).read_text()
    assert text == to_csv(compared)
    assert next(csv.reader(io.StringIO(text))) == ["section", "name", "metric", *brands]
    shot(page, "compare-desktop")
    shot_part(page.locator("#propagation"), "compare-propagation-charts")


def test_the_page_on_a_phone(visit, history: History) -> None:
    brands = [history.brands["acme"], history.brands["lumen"], history.brands["orbit"]]
    page = visit(f"/compare.html?{query(brands)}", viewport=PHONE)
    for chart in charts_of(len(brands)):
        expect(page.locator(f"#{chart}[data-drawn='true']")).to_have_count(1)
        box = page.locator(f"#{chart} canvas").first.bounding_box()
        assert box is not None
        assert box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    table = page.locator("#side-by-side").bounding_box()
    assert table is not None
    assert table["width"] <= PHONE["width"]  # three brands fit without scrolling the table sideways
    shot(page, "compare-phone")


def test_the_page_with_the_keyboard(visit, history: History) -> None:
    page = visit("/compare.html", loaded=False)
    expect(page.locator("#brand-choices input[type=checkbox]")).to_have_count(len(history.brands))
    expect(page.locator("#status")).to_contain_text("Choose 2 to 8 brands")
    page.locator("#pick-0").focus()
    page.keyboard.press("Space")  # one brand only: refused on the page, nothing asked of the server
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "pick-1"
    page.locator("#pick-btn").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("(1 chosen)")
    assert "brand=" not in page.url
    assert page.evaluate("document.activeElement.id") == "pick-0"
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    page.locator("#pick-btn").focus()
    page.keyboard.press("Enter")
    expect(page.locator("body[data-loaded]")).to_have_count(1)
    assert page.locator("#brand-choices input:checked").count() == 2  # the picks stay ticked
    expect(page.locator("#side-by-side thead th")).to_have_count(3)
    targets: list[str] = []
    while "SUMMARY" not in targets and len(targets) < 80:  # on to the first chart's numbers
        page.keyboard.press("Tab")
        targets.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
    assert targets.index("download-json") < targets.index("download-csv")
    assert targets[-1] == "SUMMARY"  # each chart's numbers open from the keyboard
    page.keyboard.press("Enter")
    expect(page.locator("details[open] table").first).to_be_visible()
    shot(page, "compare-keyboard")


def test_a_refused_comparison_is_said_on_the_page(visit, history: History) -> None:
    acme = history.brands["acme"]
    page = visit(f"/compare.html?{query([acme, acme.lower()])}", loaded=False)
    expect(page.locator("#status.is-error")).to_contain_text("named more than once")
    expect(page.locator("#figures")).to_be_hidden()


@pytest.mark.parametrize("start", ["/", "/auditor.html", "/stewardship.html"])
def test_pages_link_to_the_compare_page(visit, start: str) -> None:
    page = visit(start, loaded=False)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Compare brands").click()
    expect(page).to_have_url(re.compile(r"/compare\.html$"))
    expect(page.get_by_role("link", name="Compare brands")).to_have_attribute("aria-current", "page")


def test_a_brands_page_links_to_a_comparison_with_it(visit, history: History) -> None:
    acme = history.brands["acme"]
    page = visit(f"/stewardship.html?brand={acme}")
    page.locator("#compare-link").click()
    expect(page.locator("#brand-choices input:checked")).to_have_count(1)
    assert page.locator("#brand-choices input:checked").get_attribute("value") == acme
