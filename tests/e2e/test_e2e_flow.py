"""The whole product in a real browser: a customer grants from their wallet, the brand console receives
only the granted fields, the customer sees the access with its inclusion proof verified in the browser,
revokes, and the next release gives nothing."""

from __future__ import annotations

import pytest
from e2e_support import SLOW, grant_in_portal, shot, shot_part, sign_in, status, wait_for_submission
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PROFILE = [
    ("email", "contact.email", "ada@example.org"),
    ("phone", "contact.phone", "+44 20 7946 0000"),
    ("interests", "interests", "hiking, climbing"),
]


def _enter_profile(page) -> None:
    """Type the customer's data into the 'My data' editor and save it."""
    rows = page.locator("#data-rows tr")
    for index, (name, category, value) in enumerate(PROFILE):
        if index:
            page.get_by_role("button", name="Add a field").click()
        row = rows.nth(index)
        row.locator('input[name="name"]').fill(name)
        row.locator('select[name="category"]').select_option(category)
        row.locator('input[name="value"]').fill(value)
    page.get_by_role("button", name="Save my data").click()
    expect(status(page)).to_contain_text("Saved 3 field(s)")
    expect(page.locator('#data-rows input[name="name"][readonly]')).to_have_count(3)


def _release(brand_page, customer: str, purpose: str = "marketing.email") -> None:
    brand_page.get_by_label("Customer addresses").fill(customer)
    for label in ("Email address", "Phone number", "Interests"):
        brand_page.get_by_label(label, exact=True).check()
    brand_page.get_by_label("Purpose").select_option(purpose)
    brand_page.get_by_role("button", name="Release data").click()


def test_grant_release_verify_revoke(server, open_page, wallet_for) -> None:
    brand_account = server.add_brand("Acme Outdoor")
    customer = wallet_for()
    brand = wallet_for(brand_account)

    page = open_page("/", customer)
    expect(page.locator("#notice-text p").first).to_contain_text("Consent Ledger lets you decide")
    expect(page.get_by_label("Email marketing", exact=True)).to_be_visible()
    expect(page.get_by_label("Precise location for Email marketing")).to_be_hidden()  # until the purpose is ticked
    page.get_by_label("Email marketing", exact=True).check()
    expect(page.get_by_label("Precise location for Email marketing")).to_be_visible()
    expect(page.locator("#data-for-marketing\\.email")).to_contain_text("sensitive")
    page.get_by_label("Email marketing", exact=True).uncheck()
    shot(page, "01-portal-before-connect")
    sign_in(page, customer)
    expect(page.locator("#account")).to_be_visible()

    _enter_profile(page)
    page.reload()  # the session survives a reload (same tab, same wallet account)
    expect(page.locator("#session-text")).to_contain_text(f"Signed in as {customer.address}")
    expect(page.locator('#data-rows input[name="value"]').first).to_have_value("ada@example.org")
    grant_in_portal(page, brand_account.address, ["Email address", "Interests"], ["Email marketing"], days=30)
    grant = page.locator("#grants-list li.item")
    expect(grant).to_have_count(1)
    expect(grant).to_contain_text("Acme Outdoor")
    expect(grant).to_contain_text("Email address")
    expect(grant).to_contain_text("Interests")
    expect(grant).to_contain_text("For Email marketing")
    expect(grant).not_to_contain_text("Phone number")
    shot(page, "02-portal-granted")

    # The brand console, in its own browser context with the brand's wallet.
    brand_page = open_page("/brand.html", brand)
    sign_in(brand_page, brand)
    expect(brand_page.locator("#query-section")).to_be_visible()
    _release(brand_page, customer.address)
    result = brand_page.locator(f'#release-list li[data-customer="{customer.address}"]')
    expect(result).to_have_attribute("data-outcome", "released", timeout=SLOW)
    expect(result).to_contain_text("ada@example.org")
    expect(result).to_contain_text("hiking, climbing")
    expect(result).not_to_contain_text("+44 20 7946 0000")
    expect(result.locator('.withheld li[data-category="contact.phone"]')).to_contain_text("not granted to you")
    expect(brand_page.locator("#release-block")).to_contain_text("Decided by the contract at block")
    shot(brand_page, "03-brand-released")
    shot_part(brand_page.locator("#release-result"), "03b-brand-release-result")

    # The permission check agrees, category by category.
    brand_page.get_by_role("button", name="Check permission").click()
    checked = brand_page.locator(f'#check-list li[data-customer="{customer.address}"]')
    expect(checked).to_contain_text("partly allowed")
    expect(checked).to_contain_text("Allowed")

    # The customer sees the access, anchored (one leaf is enough here) and verified in the browser.
    page.get_by_role("button", name="Refresh").click()
    access = page.locator("#accesses-list li.access")
    expect(access).to_have_count(1)
    expect(access).to_contain_text("Acme Outdoor")
    expect(access).to_contain_text("email, interests")
    for _ in range(60):
        if access.get_attribute("data-verdict") == "verified":
            break
        page.wait_for_timeout(500)
        page.get_by_role("button", name="Refresh").click()
    expect(access).to_have_attribute("data-verdict", "verified")
    expect(access).to_contain_text("verified ✓")
    expect(page.locator("#tree-head")).to_contain_text("anchored on-chain in block")
    shot(page, "04-portal-access-verified")
    shot_part(page.locator("#accesses-section"), "04b-portal-accesses-section")
    shot_part(page.locator("#grants-section"), "04c-portal-grants-section")
    shot_part(page.locator("#data-section"), "04d-portal-data-section")

    # Revoke with one signature; the grant disappears once the relayer confirmed it.
    previous = page.locator("#progress").get_attribute("data-id") or ""
    page.get_by_role("button", name="Revoke the grant to Acme Outdoor", exact=True).click()
    wait_for_submission(page, previous)
    expect(page.locator("#progress-text")).to_contain_text("revocation is confirmed on-chain")
    expect(page.locator("#grants-list")).to_contain_text("You have no active grants")
    shot(page, "05-portal-revoked")

    # The next release gives the brand nothing.
    brand_page.get_by_role("button", name="Release data").click()
    expect(result).to_have_attribute("data-outcome", "withheld", timeout=SLOW)
    expect(result).to_contain_text("no grant covers these categories for this purpose")
    expect(brand_page.locator("#release-list")).not_to_contain_text("ada@example.org")
    shot(brand_page, "06-brand-nothing-after-revoke")


def test_two_purposes_with_different_data(server, open_page, wallet_for) -> None:
    """One signature grants email and interests for email marketing and the phone number for text
    messages; the brand console receives, for each purpose, only that purpose's data."""
    brand_account = server.add_brand("Acme Outdoor")
    customer = wallet_for()
    brand = wallet_for(brand_account)
    page = open_page("/", customer)
    expect(page.locator("#earlier-grants")).to_contain_text("were not carried over")  # README: re-consent
    expect(page.locator("#max-days")).to_have_text("730")  # read from the contract through /v1/limits
    sign_in(page, customer)
    _enter_profile(page)

    page.get_by_label("Brand", exact=True).select_option(brand_account.address)
    page.get_by_label("Email marketing", exact=True).check()
    page.get_by_label("Email address for Email marketing", exact=True).check()
    page.get_by_label("Interests for Email marketing", exact=True).check()
    page.get_by_label("Text message marketing", exact=True).check()
    page.get_by_label("Phone number for Text message marketing", exact=True).check()
    summary = page.locator("#summary-terms")
    expect(summary.locator('li[data-purpose="marketing.email"]')).to_have_text(
        "for Email marketing, use Email address, Interests"
    )
    expect(summary.locator('li[data-purpose="marketing.sms"]')).to_have_text(
        "for Text message marketing, use Phone number"
    )
    expect(page.locator("#summary-wallet")).to_contain_text("262145 for purpose 16 (Email marketing)")
    expect(page.locator("#summary-wallet")).to_contain_text("categoriesPerPurpose [262145, ")
    shot(page, "07-portal-two-purposes-summary")
    previous = page.locator("#progress").get_attribute("data-id") or ""
    page.get_by_role("button", name="Sign and grant").click()
    wait_for_submission(page, previous)
    grant = page.locator("#grants-list li.item")
    expect(grant).to_contain_text("For Email marketing")
    expect(grant).to_contain_text("For Text message marketing")

    brand_page = open_page("/brand.html", brand)
    sign_in(brand_page, brand)
    result = brand_page.locator(f'#release-list li[data-customer="{customer.address}"]')
    _release(brand_page, customer.address, "marketing.email")
    expect(result).to_have_attribute("data-outcome", "released", timeout=SLOW)
    expect(result).to_contain_text("ada@example.org")
    expect(result).to_contain_text("hiking, climbing")
    expect(result).not_to_contain_text("+44 20 7946 0000")
    shot(brand_page, "08-brand-released-for-email-marketing")

    brand_page.get_by_label("Purpose").select_option("marketing.sms")
    brand_page.get_by_role("button", name="Release data").click()
    expect(brand_page.locator("#release-block")).to_contain_text("Text message marketing")
    expect(result).to_contain_text("+44 20 7946 0000", timeout=SLOW)
    expect(result).not_to_contain_text("ada@example.org")
    expect(result).not_to_contain_text("hiking, climbing")
    expect(result.locator('.withheld li[data-category="contact.email"]')).to_contain_text("not granted to you")
    shot(brand_page, "09-brand-released-for-text-messages")
