"""The brand console's insights view in Chromium against the real app (issue 12): consenting customers seeded
through real signed grants relayed to anvil; the page explains the chosen epsilon (noise scale and 95% accuracy
equal to the server's), draws the answer's noisy counts as bars whose numbers are the API's, marks suppressed
cells as suppressed (never 0), shows the pinned block and the access-log leaf, the budget before and after; a
spent budget shows the API's refusal and what is left; it fits a phone-sized screen and works with the keyboard.
Screenshots 43-47 go to build/e2e-screenshots/.

The questions ask with a very large epsilon (noise of scale 0.004, so each noisy count equals the true one
except with probability far below 1e-100) so the drawn numbers can also be checked against the seeded truth.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import Server, drawn_pixels, serve_app, shot, shot_part, sign_in, status
from eth_account import Account
from eth_account.signers.local import LocalAccount
from playwright.sync_api import Page, expect

from consent_ledger.audit.leaf import InsightLeaf, decode_any
from consent_ledger.insights.noise import accuracy
from waiting import BACKGROUND_TIMEOUT_MS, patient

pytestmark = pytest.mark.e2e
PHONE = {"width": 375, "height": 812}
PURPOSE = "tcf.audience_statistics"
CATEGORIES = ["demographic.age_range", "interests"]
EXACT = 1000.0  # the per-question cap of these tests: counts come back exact
PER_PERIOD = 3 * EXACT + 0.5
MIN_GROUP = 3
AGES = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]  # the bins the page suggests for age ranges
INTERESTS = ["hiking", "climbing", "cooking", "chess"]
# (age range, interests) of the customers who granted the brand both categories for audience statistics
AUDIENCE = [
    *[("25-34", "hiking, climbing")] * 3,
    *[("25-34", "cooking")] * 2,
    *[("35-44", "hiking, chess, cooking")] * 4,
    ("45-54", "climbing"),
    ("45-54", "hiking"),
    ("18-24", "chess"),
]
NOT_COUNTED = [("25-34", "hiking", "marketing.email"), ("25-34", "hiking", None)]  # another purpose; no grant


@pytest.fixture
def server(chain, tmp_path: Path) -> Iterator[Server]:
    """The app as in conftest, with a privacy budget these tests can spend and a small minimum group size."""
    with serve_app(
        chain,
        tmp_path,
        insight_epsilon_per_query=EXACT,
        insight_epsilon_per_period=PER_PERIOD,
        insight_min_group_size=MIN_GROUP,
    ) as served:
        yield served


def _wait(predicate: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + patient(timeout)
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def _seed_audience(server: Server, brand: LocalAccount) -> None:
    """Customers with an age range and interests in the vault, who signed grants (relayed to anvil by the
    app's relayer): AUDIENCE for audience statistics, NOT_COUNTED for another purpose or not at all."""
    context = server.context
    submissions = []
    people = [(age, interests, PURPOSE) for age, interests in AUDIENCE] + NOT_COUNTED
    for age, interests, purpose in people:
        customer: LocalAccount = Account.create()
        context.vault.put_fields(
            customer.address,
            {"age": ("demographic.age_range", age), "interests": ("interests", interests)},
        )
        if purpose is None:
            continue
        typed = context.consents.grant_typed_data(customer.address, brand.address, [(purpose, CATEGORIES)], 30)
        signature = Account.sign_typed_data(customer.key, full_message=typed).signature
        submission, _ = context.consents.submit(customer.address, "grant", typed["message"], "0x" + signature.hex())
        submissions.append(submission.id)
    _wait(lambda: all(context.outbox.get(s).status == "confirmed" for s in submissions), "the grants to be confirmed")
    context.ledger.rpc.request("evm_mine", [])


def _truth() -> dict[str, dict[str, int]]:
    ages = Counter(age for age, _ in AUDIENCE)
    interests: Counter[str] = Counter()
    for _, listed in AUDIENCE:
        mine = [i for i in INTERESTS if i in [x.strip() for x in listed.split(",")]]
        interests.update(mine[:2])  # two bins per customer at most, the first ones in bin order
    return {"demographic.age_range": {a: ages[a] for a in AGES}, "interests": {i: interests[i] for i in INTERESTS}}


def _expected(count: int) -> int | None:
    return count if count >= MIN_GROUP else None


def _fill_question(page: Page, epsilon: float) -> None:
    page.get_by_label("What the counts are for").select_option(PURPOSE)
    page.get_by_role("button", name="Add a histogram").click()
    rows = page.locator("#insight-histograms .histogram")
    expect(rows).to_have_count(2)
    expect(rows.nth(1).get_by_label("Count by")).to_have_value("interests")
    rows.nth(1).locator("input[name='insight-bins']").fill(", ".join(INTERESTS))
    page.get_by_label("Epsilon").fill(str(epsilon))


def _ask(page: Page) -> dict[str, Any]:
    with page.expect_response(lambda r: r.url.endswith("/v1/insights") and r.request.method == "POST") as got:
        page.get_by_role("button", name="Ask the question").click()
    response = got.value
    assert response.status == 200, response.text()
    answer = dict(response.json())
    expect(page.locator("#insight-result")).to_have_attribute("data-query-id", answer["query_id"])
    return answer


def _budget(server: Server, brand: LocalAccount) -> dict[str, Any]:
    return dict(server.context.insights.budget(brand.address))


def _assert_drawn_as_answered(page: Page, answer: dict[str, Any]) -> None:
    """Every chart carries the answer's cells, lists each count or 'suppressed', and is drawn."""
    for n, histogram in enumerate(answer["histograms"]):
        figure = page.locator(f"#insight-chart-{n}")
        expect(figure).to_have_attribute("data-drawn", "true")
        assert figure.get_attribute("data-category") == histogram["category"]
        assert json.loads(figure.get_attribute("data-cells") or "[]") == histogram["bins"]
        for cell in histogram["bins"]:
            item = figure.locator(f"li[data-bin='{cell['bin']}']")
            assert item.get_attribute("data-suppressed") == ("true" if cell["suppressed"] else "false")
            if cell["suppressed"]:
                expect(item).to_contain_text(f"suppressed, below {MIN_GROUP}")
                assert item.get_attribute("data-count") == ""
            else:
                expect(item).to_have_text(f"{cell['bin']}: {cell['count']}")
                assert item.get_attribute("data-count") == str(cell["count"])
        # the numbers under the chart (a table for screen readers) say the same
        figure.locator("summary").click()
        table = figure.locator("details table tbody tr")
        expect(table).to_have_count(len(histogram["bins"]))
        for row, cell in enumerate(histogram["bins"]):
            shown = f"suppressed (below {MIN_GROUP})" if cell["suppressed"] else str(cell["count"])
            expect(table.nth(row).locator("td").nth(1)).to_have_text(shown)
        figure.locator("summary").click()
        assert drawn_pixels(page, f"insight-chart-{n}") > 500


def test_the_answer_is_drawn_with_its_block_leaf_and_budget(server, open_page, wallet_for) -> None:
    brand = server.add_brand("Acme Outdoor")
    _seed_audience(server, brand)
    page = _signed_in(open_page, wallet_for(brand))
    section = page.locator("#insights-section")
    expect(section).to_be_visible()
    budget = page.locator("#insight-budget")
    expect(budget).to_have_attribute("data-remaining", str(PER_PERIOD))
    expect(budget).to_contain_text(f"at most ε {EXACT:g}")
    expect(budget).to_contain_text(f"{MIN_GROUP} (a noisy count below it is suppressed)")

    _fill_question(page, 0.5)
    # What epsilon 0.5 means here: sensitivity 1 (total) + 1 (age) + 2 (interests, two bins each) = 4
    noise = page.locator("#insight-noise")
    expect(noise).to_have_attribute("data-scale", "8")
    expect(noise).to_have_attribute("data-accuracy", f"{accuracy(8.0):.3f}")  # OpenDP's figure, as the server's
    expect(page.locator("#insight-accuracy")).to_have_text(f"± {accuracy(8.0):.1f} of the true count")
    expect(page.locator("#insight-small-groups")).to_have_attribute("data-warn", "true")
    expect(page.locator("#insight-small-groups")).to_contain_text("does not mean zero")
    expect(page.locator("#insight-cost")).to_contain_text(f"ε {PER_PERIOD:g} of this period's budget is left before it")
    shot_part(section, "43-brand-insights-question")

    page.get_by_label("Epsilon").fill(str(int(EXACT)))
    expect(noise).to_have_attribute("data-scale", "0.004")
    expect(page.locator("#insight-small-groups")).to_have_attribute("data-warn", "false")
    size = server.context.access_log.size
    answer = _ask(page)

    truth = _truth()
    assert answer["total"] == {"count": len(AUDIENCE), "suppressed": False}  # not the two others
    for histogram in answer["histograms"]:
        expected = {b: _expected(c) for b, c in truth[histogram["category"]].items()}
        assert {cell["bin"]: cell["count"] for cell in histogram["bins"]} == expected
    assert any(c["suppressed"] for h in answer["histograms"] for c in h["bins"])  # 18-24 (1), 45-54 (2), 55-64 (0)
    _assert_drawn_as_answered(page, answer)
    expect(page.locator("#insight-total")).to_have_attribute("data-count", str(len(AUDIENCE)))

    privacy = answer["privacy"]
    assert privacy["noise_scale"] == pytest.approx(4 / EXACT)
    assert noise.get_attribute("data-accuracy") == f"{privacy['accuracy_95']:.3f}"  # the preview was the answer's
    block = page.locator("#insight-block")
    expect(block).to_have_attribute("data-number", str(answer["block"]["number"]))
    expect(block).to_contain_text(answer["block"]["hash"])
    leaf = page.locator("#insight-leaf")
    expect(leaf).to_have_attribute("data-index", str(answer["leaf_index"]))
    assert answer["leaf_index"] == size  # the question is the next leaf of the log, naming this brand
    recorded = decode_any(server.context.access_log.leaf(answer["leaf_index"]))
    assert isinstance(recorded, InsightLeaf)
    assert (recorded.brand, recorded.query_id, recorded.block_number) == (
        brand.address,
        answer["query_id"],
        answer["block"]["number"],
    )

    left = PER_PERIOD - EXACT
    assert privacy["epsilon_remaining"] == pytest.approx(left) == _budget(server, brand)["epsilon_remaining"]
    after = page.locator("#insight-after")
    expect(after).to_have_attribute("data-before", str(PER_PERIOD))
    expect(after).to_have_attribute("data-after", f"{left:g}")
    expect(budget).to_have_attribute("data-remaining", f"{left:g}")  # the budget went down
    expect(budget).to_contain_text(f"ε {EXACT:g} spent")
    expect(status(page)).to_contain_text(f"ε {left:g} left")
    shot_part(section, "44-brand-insights-answer")


def test_a_spent_budget_shows_the_refusal_and_what_is_left(server, open_page, wallet_for) -> None:
    brand = server.add_brand("Lumen Books")  # no customer: a refusal needs none, an answer is all suppressed
    page = _signed_in(open_page, wallet_for(brand))
    page.get_by_label("Epsilon").fill(str(int(EXACT)))
    for n in range(1, 4):  # every question costs its epsilon, the same question again too
        answer = _ask(page)
        left = PER_PERIOD - n * EXACT
        assert answer["privacy"]["epsilon_remaining"] == pytest.approx(left)
        expect(page.locator("#insight-budget")).to_have_attribute("data-remaining", f"{left:g}")
    expect(page.locator("#insight-total")).to_have_attribute("data-suppressed", "true")
    _assert_drawn_as_answered(page, answer)
    expect(page.locator("#insight-cost")).to_contain_text("ε 0.5 of this period's budget is left before it")
    expect(page.locator("#insight-noise")).to_contain_text("cannot pay for it")

    size = server.context.access_log.size
    with page.expect_response(lambda r: r.url.endswith("/v1/insights") and r.request.method == "POST") as got:
        page.get_by_role("button", name="Ask the question").click()
    assert got.value.status == 429
    problem = got.value.json()
    refusal = page.locator("#insight-refusal")
    expect(refusal).to_be_visible()
    expect(refusal).to_have_attribute("data-status", "429")
    expect(refusal).to_contain_text(problem["detail"])  # the API's own words
    expect(refusal).to_contain_text("Budget left: ε 0.5")
    expect(refusal).to_contain_text("Nothing was charged")
    expect(status(page)).to_contain_text("only 0.5 of your privacy budget is left")
    assert problem["epsilon_remaining"] == 0.5
    assert _budget(server, brand)["epsilon_remaining"] == 0.5  # the refused question cost nothing
    assert server.context.access_log.size == size  # and left no leaf
    expect(page.locator("#insight-budget")).to_have_attribute("data-remaining", "0.5")
    expect(page.locator("#insight-result")).to_be_hidden()  # the last answer is not shown as this one's
    shot_part(page.locator("#insights-section"), "45-brand-insights-budget-spent")


def test_the_view_on_a_phone(server, open_page, wallet_for) -> None:
    brand = server.add_brand("Acme Outdoor")
    _seed_audience(server, brand)
    page = _signed_in(open_page, wallet_for(brand), viewport=PHONE)
    _fill_question(page, EXACT)
    answer = _ask(page)
    _assert_drawn_as_answered(page, answer)
    for n in range(len(answer["histograms"])):
        box = page.locator(f"#insight-chart-{n} canvas").first.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the console is {width}px wide on a {PHONE['width']}px screen"
    shot_part(page.locator("#insight-form"), "46-brand-insights-phone-question")
    shot_part(page.locator("#insight-result"), "46-brand-insights-phone-answer")


def _focused(page: Page) -> str:
    return str(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))


def _tab_to(page: Page, target: str, limit: int = 20) -> list[str]:
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(_focused(page))
        if seen[-1] == target:
            return seen
    pytest.fail(f"{target} not reached with Tab: {seen}")


def test_the_view_with_the_keyboard(server, open_page, wallet_for) -> None:
    brand = server.add_brand("Acme Outdoor")
    _seed_audience(server, brand)
    page = _signed_in(open_page, wallet_for(brand))
    page.locator("#insight-purpose").focus()
    path = _tab_to(page, "insight-add")
    assert path[:3] == ["insight-category-1", "insight-contributions-1", "insight-bins-1"], path
    page.keyboard.press("Enter")  # adds a histogram and moves to it
    assert _focused(page) == "insight-category-2"
    expect(page.locator("#insight-category-2")).to_have_value("interests")
    _tab_to(page, "insight-bins-2")
    page.keyboard.type(", ".join(INTERESTS))
    _tab_to(page, "insight-epsilon")
    page.keyboard.press("Control+A")
    page.keyboard.type(str(int(EXACT)))
    _tab_to(page, "insight-run")
    with page.expect_response(lambda r: r.url.endswith("/v1/insights") and r.request.method == "POST") as got:
        page.keyboard.press("Enter")
    answer = got.value.json()
    expect(page.locator("#insight-result")).to_have_attribute("data-query-id", answer["query_id"])
    _assert_drawn_as_answered(page, answer)
    # a histogram is removed from the keyboard too, and the focus goes back to "Add a histogram"
    page.get_by_role("button", name="Remove the histogram of Interests").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#insight-histograms .histogram")).to_have_count(1)
    assert _focused(page) == "insight-add"
    shot(page, "47-brand-insights-keyboard")


def _signed_in(open_page: Any, wallet: Any, viewport: dict[str, int] | None = None) -> Page:
    page: Page = open_page("/brand.html", wallet, viewport=viewport)
    sign_in(page, wallet)
    expect(page.locator("#insights-section")).to_be_visible()
    budget = page.locator("#insight-budget")
    expect(budget).to_have_attribute("data-remaining", str(PER_PERIOD), timeout=BACKGROUND_TIMEOUT_MS)
    return page
