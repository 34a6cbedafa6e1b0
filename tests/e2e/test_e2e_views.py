"""The access-log view against tampered answers, the auditor console on the real audit API, phone-sized
screens and keyboard-only use."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from e2e_support import grant_in_portal, shot, shot_part, sign_in, status
from eth_account import Account
from playwright.sync_api import expect

from api_support import AUDITOR, PROFILE
from waiting import patient

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 812}


def _wait(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + patient(timeout)
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def _granted_and_released(server, customer, brand, categories=("contact.email", "interests"), more=()):
    """Server-side set-up (the UI paths are covered elsewhere): data, a relayed grant (`categories` for email
    marketing, plus the (purpose, categories) of `more`), a release for email marketing, an anchor."""
    context = server.context
    context.vault.put_fields(customer.address, {k: (v["category"], v["value"]) for k, v in PROFILE.items()})
    allow = [("marketing.email", list(categories)), *((p, list(c)) for p, c in more)]
    typed = context.consents.grant_typed_data(customer.address, brand.address, allow, 30)
    signature = Account.sign_typed_data(customer.key, full_message=typed).signature
    submission, _ = context.consents.submit(customer.address, "grant", typed["message"], "0x" + signature.hex())
    _wait(lambda: context.outbox.get(submission.id).status == "confirmed", "the grant to be confirmed")
    context.ledger.rpc.request("evm_mine", [])  # the release is decided at a later block than the grant
    context.releases.release(brand.address, [customer.address], list(categories), "marketing.email", 100)
    _wait(lambda: all(a["anchored"] for a in context.audit.accesses(customer.address)["accesses"]), "the anchor")


def test_tampered_access_log_answers_are_not_verified(server, open_page, wallet_for) -> None:
    brand = server.add_brand("Acme Outdoor")
    customer = wallet_for()
    _granted_and_released(server, customer.account, brand)

    def tamper(route) -> None:
        body = route.fetch().json()
        (real,) = body["accesses"]
        bad_proof = {**real, "proof": ["0x" + "00" * 32] * max(len(real["proof"]), 1)}
        other_brand = {**real, "brand_name": "Shown as another brand", "brand": Account.create().address}
        pending = {**real, "anchored": False, "proof": None}
        body["accesses"] = [real, bad_proof, other_brand, pending]
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page = open_page("/", customer)
    page.route("**/v1/me/accesses", tamper)
    sign_in(page, customer)
    entries = page.locator("#accesses-list li.access")
    expect(entries).to_have_count(4)
    expect(entries.nth(0)).to_have_attribute("data-verdict", "verified")
    expect(entries.nth(0)).to_contain_text("verified ✓")
    expect(entries.nth(1)).to_have_attribute("data-verdict", "failed")
    expect(entries.nth(1)).to_contain_text("NOT verified")
    expect(entries.nth(1)).to_contain_text("does not lead to the anchored root")
    expect(entries.nth(2)).to_have_attribute("data-verdict", "failed")
    expect(entries.nth(2)).to_contain_text("differs from what is shown here: brand")
    expect(entries.nth(3)).to_have_attribute("data-verdict", "unanchored")
    expect(entries.nth(3)).to_contain_text("not anchored yet")
    expect(status(page)).to_contain_text("2 access log entries could NOT be verified")
    shot_part(page.locator("#accesses-section"), "20-portal-accesses-tampered")


def test_auditor_console_on_the_real_audit_api(server, open_page, wallet_for) -> None:
    brand = server.add_brand("Acme Outdoor")
    customer = Account.create()
    _granted_and_released(server, customer, brand, more=[("tcf.measure_ad_performance", ["purchase_history"])])
    _wait(lambda: server.context.audit.history(kinds=["anchored"])["items"], "the indexer to see the anchor")

    auditor = wallet_for(AUDITOR)
    page = open_page("/auditor.html", auditor)
    sign_in(page, auditor)
    timeline = page.locator("#timeline li.item")
    expect(page.locator('#timeline li[data-kind="granted"]')).to_have_count(1)
    expect(page.locator('#timeline li[data-kind="released"]')).to_have_count(1)
    expect(page.locator('#timeline li[data-kind="anchored"]')).to_have_count(1)
    expect(page.locator('#timeline li[data-kind="granted"]')).to_contain_text("Acme Outdoor")
    # Issue 10: each purpose of the grant with only the data it may use, not one list for all purposes.
    terms = page.locator('#timeline li[data-kind="granted"] ul.terms li')
    expect(terms).to_have_count(2)
    email = terms.and_(page.locator('[data-purpose="marketing.email"]'))
    ads = terms.and_(page.locator('[data-purpose="tcf.measure_ad_performance"]'))
    expect(email).to_have_attribute("data-categories", "contact.email,interests")
    expect(email).to_contain_text("Email address")
    expect(email).not_to_contain_text("Purchase history")
    expect(ads).to_have_attribute("data-categories", "purchase_history")
    expect(ads).to_contain_text("Purchase history")
    expect(ads).not_to_contain_text("Email address")
    expect(page.locator('#timeline li[data-kind="granted"]')).not_to_contain_text("[{")  # no raw JSON
    expect(page.locator("#tree-head-box")).to_contain_text("Entries anchored")
    expect(page.locator("#verification-box")).to_contain_text("No verification has run yet")

    page.get_by_label("What happened").select_option("released")
    page.get_by_role("button", name="Show").click()
    expect(timeline).to_have_count(1)
    expect(timeline.first).to_have_attribute("data-kind", "released")
    page.get_by_label("What happened").select_option("")
    page.get_by_label("Customer address").fill(Account.create().address)
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#timeline-count")).to_have_text("No events match these filters.")
    page.get_by_label("Customer address").fill(customer.address)
    page.get_by_label("Brand").select_option(brand.address)
    page.get_by_label("How many at a time").fill("1")
    page.get_by_role("button", name="Show").click()
    expect(timeline).to_have_count(1)
    page.get_by_role("button", name="Load more").click()
    expect(timeline).to_have_count(2)

    page.get_by_role("button", name="Run verification now").click()
    expect(page.locator("#verification-box")).to_contain_text("passed")
    expect(status(page)).to_have_text("Verification passed.")
    shot(page, "21-auditor-console")

    with page.expect_download() as download:
        page.get_by_role("button", name="Export everything (JSON)").click()
    exported = json.loads(download.value.path().read_text())
    assert {i["kind"] for i in exported["items"]} >= {"granted", "released", "anchored"}
    with page.expect_download() as download:
        page.get_by_role("button", name="Export everything (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert "released" in {r["kind"] for r in rows}
    page.get_by_label("Consent receipts for customer").fill(customer.address)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download consent receipts").click()
    assert download.value.suggested_filename == f"consent-receipts-{customer.address}.json"
    assert len(json.loads(download.value.path().read_text())["receipts"]) == 1


WIDER_THAN_SCREEN = """(limit) => Array.from(document.querySelectorAll('body *'))
  .filter((e) => e.getBoundingClientRect().right > limit + 0.5
    || (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === "visible"))
  .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}: ${Math.round(e.getBoundingClientRect().right)}px`)
  .slice(0, 8)"""


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(WIDER_THAN_SCREEN, PHONE["width"])
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px screen: {wide}"


def test_pages_fit_a_phone_screen(server, open_page, wallet_for) -> None:
    brand_account = server.add_brand("Acme Outdoor")
    customer = wallet_for()
    page = open_page("/", customer, viewport=PHONE)
    _no_sideways_scroll(page)
    sign_in(page, customer)
    page.get_by_role("button", name="Save my data").wait_for()
    grant_in_portal(page, brand_account.address, ["Email address"], ["Email marketing"])
    _no_sideways_scroll(page)
    shot(page, "30-phone-portal")
    shot_part(page.locator("#grants-section"), "30b-phone-portal-grants")
    shot_part(page.locator("#data-section"), "30c-phone-portal-data")

    brand = wallet_for(brand_account)
    brand_page = open_page("/brand.html", brand, viewport=PHONE)
    sign_in(brand_page, brand)
    brand_page.get_by_label("Customer addresses").fill(customer.address)
    brand_page.get_by_label("Email address", exact=True).check()
    brand_page.get_by_label("Phone number", exact=True).check()
    brand_page.get_by_label("Purpose").select_option("marketing.email")
    brand_page.get_by_role("button", name="Release data").click()
    expect(brand_page.locator("#release-list li.item")).to_have_count(1)
    _no_sideways_scroll(brand_page)
    shot(brand_page, "31-phone-brand")

    auditor = wallet_for(AUDITOR)
    audit_page = open_page("/auditor.html", auditor, viewport=PHONE)
    sign_in(audit_page, auditor)
    expect(audit_page.locator("#timeline li.item").first).to_be_visible()
    _no_sideways_scroll(audit_page)
    shot(audit_page, "32-phone-auditor")

    bare = open_page("/", viewport=PHONE)
    expect(bare.locator("#no-wallet")).to_be_visible()
    _no_sideways_scroll(bare)
    shot(bare, "33-phone-no-wallet")


def test_keyboard_only_sign_in_with_visible_focus(server, open_page, wallet_for) -> None:
    customer = wallet_for()
    page = open_page("/", customer)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    page.keyboard.press("Enter")
    connect = page.get_by_role("button", name="Connect wallet")
    for _ in range(10):
        if connect.evaluate("b => b === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(connect).to_be_focused()
    outline = connect.evaluate("b => getComputedStyle(b).outlineStyle + ' ' + getComputedStyle(b).outlineWidth")
    assert outline == "solid 3px"
    page.keyboard.press("Enter")
    sign_in_button = page.get_by_role("button", name="Sign in with your wallet")
    expect(sign_in_button).to_be_focused()  # focus moves on to the next step
    page.keyboard.press("Enter")
    expect(page.locator("#session-text")).to_contain_text(f"Signed in as {customer.address}")
    # Every control in the grant form has an accessible name.
    unnamed = page.evaluate(
        """() => Array.from(document.querySelectorAll('input, select, textarea, button'))
              .filter(e => !e.closest('[hidden]') && !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                           && !(e.tagName === 'BUTTON' && e.textContent.trim()))
              .map(e => e.id || e.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []


def test_export_then_erase_behind_a_typed_confirmation(server, open_page, wallet_for) -> None:
    customer = wallet_for()
    server.context.vault.put_fields(customer.address, {k: (v["category"], v["value"]) for k, v in PROFILE.items()})
    page = open_page("/", customer)
    sign_in(page, customer)
    expect(page.locator('#data-rows input[name="name"][readonly]')).to_have_count(len(PROFILE))

    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data (JSON)").click()
    assert download.value.suggested_filename == f"consent-ledger-my-data-{customer.address}.json"
    exported = json.loads(download.value.path().read_text())
    assert exported["customer"] == customer.address
    assert {f["field"]: f["value"] for f in exported["fields"]} == {k: v["value"] for k, v in PROFILE.items()}

    page.get_by_role("button", name="Erase my data…").click()
    confirm = page.get_by_label("Type ERASE to confirm")
    expect(confirm).to_be_focused()
    erase = page.get_by_role("button", name="Erase for good")
    expect(erase).to_be_disabled()
    confirm.fill("erase")
    expect(erase).to_be_disabled()
    shot_part(page.locator("#data-section"), "22-portal-erase-confirmation")
    confirm.fill("ERASE")
    expect(erase).to_be_enabled()
    erase.click()
    expect(status(page)).to_contain_text(f"Erased: {len(PROFILE)} field(s)")
    expect(page.locator("#data-rows")).to_contain_text("Your data was erased")
    expect(page.get_by_role("button", name="Save my data")).to_be_disabled()
    assert server.context.vault.get_fields(customer.address) == {}
