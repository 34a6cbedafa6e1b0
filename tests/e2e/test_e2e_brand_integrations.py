"""The brand console's webhook endpoints and API keys in Chromium against the real app: an endpoint is added
with its event kinds and its signing secret shown once (copied to the clipboard, the same the server signs
with), the secret is rotated, an endpoint disabled after failing deliveries shows why and is enabled again,
a refused URL changes nothing; an API key is made with chosen permissions (shown once), works, shows its
last use, and stops working when revoked."""

from __future__ import annotations

import httpx
import pytest
from e2e_support import shot_part, sign_in, status
from playwright.sync_api import expect

from consent_ledger.db.base import utc_now

pytestmark = pytest.mark.e2e
PHONE = {"width": 375, "height": 812}
HOOK = "http://127.0.0.1:18160/consent-hook"  # development allows http and loopback; nothing listens here
REASON = "deliveries failed for 3 days (last: connection refused)"


def _secrets(server, endpoint_id: str) -> list[str]:
    with server.context.sessions() as session:
        return server.context.webhook_endpoints.signing_secrets(session, endpoint_id, utc_now())


def test_webhook_endpoints_in_the_brand_console(server, open_page, wallet_for) -> None:
    brand = wallet_for(server.add_brand("Acme Outdoor"))
    page = open_page("/brand.html", brand)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, brand)
    section = page.locator("#webhooks-section")
    expect(section).to_be_visible()
    expect(page.locator("#webhook-list")).to_contain_text("No endpoint yet")

    page.get_by_label("Endpoint URL").fill(HOOK)
    expect(page.get_by_label("Consent revoked")).to_be_checked()  # the changes a brand must act on, by default
    page.get_by_label("Consent granted").check()
    page.get_by_label("Description").fill("CRM")
    page.get_by_role("button", name="Add endpoint").click()
    secret_box = page.locator("#webhook-secret")
    expect(secret_box).to_be_visible()
    shown = page.locator("#webhook-secret-value").inner_text()
    assert shown.startswith("whsec_")
    item = page.locator("#webhook-list li.webhook")
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-enabled", "true")
    expect(item).to_contain_text("Consent granted, Consent revoked, Data erased")
    endpoint_id = item.get_attribute("data-id")
    assert _secrets(server, endpoint_id) == [shown]  # what the page showed is what the server signs with
    page.get_by_role("button", name="Copy secret").click()
    expect(status(page)).to_contain_text("Copied to the clipboard")
    assert page.evaluate("navigator.clipboard.readText()") == shown
    shot_part(section, "40-brand-webhook-endpoint-added")

    page.get_by_role("button", name=f"Rotate the secret of {HOOK}").click()
    expect(page.locator("#webhook-secret-what")).to_contain_text("the old one keeps signing until")
    rotated = page.locator("#webhook-secret-value").inner_text()
    assert rotated.startswith("whsec_")
    assert rotated != shown
    assert _secrets(server, endpoint_id) == [rotated, shown]
    page.get_by_role("button", name="I stored it").click()
    expect(secret_box).to_be_hidden()
    assert page.locator("#webhook-secret-value").inner_text() == ""  # not kept in the page

    with server.context.sessions.begin() as session:  # as the delivery worker does after days of failures
        current = server.context.webhook_endpoints.endpoint(session, endpoint_id)
        assert current is not None
        assert server.context.webhook_endpoints.disable(session, endpoint_id, current.version, REASON, utc_now())
    page.get_by_role("button", name="Reload the webhook endpoints").click()
    expect(item).to_have_attribute("data-enabled", "false")
    notice = item.locator('[data-role="disabled-notice"]')
    expect(notice).to_contain_text(REASON)
    expect(notice).to_contain_text("Fix the endpoint, then enable it")
    shot_part(section, "41-brand-webhook-endpoint-disabled")
    page.get_by_role("button", name=f"Enable {HOOK}").click()
    expect(item).to_have_attribute("data-enabled", "true")
    expect(item.locator('[data-role="disabled-notice"]')).to_have_count(0)
    expect(status(page)).to_contain_text("deliveries resume")

    page.get_by_label("Endpoint URL").fill("ftp://files.example.com/in")
    page.get_by_role("button", name="Add endpoint").click()
    expect(status(page)).to_contain_text("starts with https://")
    expect(item).to_have_count(1)
    page.get_by_role("button", name=f"Delete {HOOK}").click()
    expect(page.locator("#webhook-list")).to_contain_text("No endpoint yet")
    assert _secrets(server, endpoint_id) == []


def test_api_keys_in_the_brand_console(server, open_page, wallet_for) -> None:
    brand = wallet_for(server.add_brand("Acme Outdoor"))
    page = open_page("/brand.html", brand)
    sign_in(page, brand)
    section = page.locator("#apikeys-section")
    expect(section).to_be_visible()
    expect(page.locator("#apikey-list")).to_contain_text("No API key yet")
    page.get_by_label("Key name").fill("CRM sync")
    page.get_by_label("webhooks:manage").check()
    page.get_by_label("receipts:read").check()
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#apikey-secret")).to_be_visible()
    key = page.locator("#apikey-secret-value").inner_text()
    assert key.startswith("clk_")
    item = page.locator("#apikey-list li.apikey")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("receipts:read, webhooks:manage")
    expect(item).to_contain_text("never")  # not used yet
    expect(item).not_to_contain_text(key)  # the list shows only the prefix
    shot_part(section, "42-brand-api-key-made")

    auth = {"Authorization": f"Bearer {key}"}
    assert httpx.get(server.url + "/v1/webhooks/endpoints", headers=auth, timeout=60).status_code == 200
    page.get_by_role("button", name="Reload the API keys").click()
    expect(item.locator("dd").nth(2)).not_to_have_text("never")  # Last used: now a time

    page.get_by_role("button", name="Revoke the key CRM sync").click()
    expect(item).to_have_attribute("data-revoked", "true")
    expect(item).to_contain_text("revoked")
    assert httpx.get(server.url + "/v1/webhooks/endpoints", headers=auth, timeout=60).status_code == 401

    page.get_by_label("Key name").fill("no permissions")
    page.get_by_label("webhooks:manage").uncheck()
    page.get_by_label("receipts:read").uncheck()
    page.get_by_role("button", name="Create key").click()
    expect(status(page)).to_contain_text("Choose at least one permission")
    expect(item).to_have_count(1)


def test_both_sections_fit_a_phone_screen(server, open_page, wallet_for) -> None:
    brand = wallet_for(server.add_brand("Acme Outdoor"))
    page = open_page("/brand.html", brand, viewport=PHONE)
    sign_in(page, brand)
    page.get_by_label("Endpoint URL").fill("http://127.0.0.1:18161/" + "a-long-path-segment/" * 6)
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#webhook-secret")).to_be_visible()
    page.get_by_label("Key name").fill("phone")
    page.get_by_label("permissions:read").check()
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#apikey-secret")).to_be_visible()
    expect(page.locator("#apikey-list li.apikey")).to_have_count(1)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the console is {width}px wide on a {PHONE['width']}px screen"
