"""The portal's "Who was told of my revocations and erasures" and the auditor's list of brands still owing
an acknowledgement, in Chromium against the real app: a revocation signed in the portal shows as not told,
then told and acknowledged as the propagation steps are logged, each step's proof checked in the browser;
tampered answers are not verified."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from e2e_support import SLOW, shot_part, sign_in, status, wait_for_submission
from playwright.sync_api import expect
from test_e2e_views import _granted_and_released, _wait

from api_support import AUDITOR
from consent_ledger.propagation.steps import PropagationStep, parse_event_id, record_step

pytestmark = pytest.mark.e2e
EVENT = "evt_" + "7a" * 32


def _revoke_in_portal(page, brand) -> None:
    previous = page.locator("#progress").get_attribute("data-id") or ""
    page.get_by_role("button", name=f"Revoke the grant to {brand}", exact=True).click()
    wait_for_submission(page, previous)


def _revocation_time(server, customer: str) -> datetime:
    def revoked():
        items = server.context.audit.all_history(customer=customer)
        return [i for i in items if i["kind"] == "revoked"]

    (event,) = _wait(revoked, "the indexer to see the revocation")
    return datetime.fromisoformat(event["timestamp"])


def _log(server, step: PropagationStep) -> None:
    with server.context.sessions() as session:
        record_step(session, step)
        session.commit()


def test_a_revocation_told_and_acknowledged_with_verified_proofs(server, open_page, wallet_for) -> None:
    brand = server.add_brand("Acme Outdoor")
    customer = wallet_for()
    _granted_and_released(server, customer.account, brand)
    page = open_page("/", customer)
    sign_in(page, customer)
    expect(page.locator("#notices-list")).to_contain_text("No brand has had to be told")
    _revoke_in_portal(page, "Acme Outdoor")

    notice = page.locator(f'#notices-list li.notice[data-brand="{brand.address}"]')
    expect(notice).to_have_attribute("data-state", "not-told", timeout=SLOW)
    expect(notice).to_contain_text("not told yet")
    expect(notice).to_contain_text("You revoked your consent")

    occurred = _revocation_time(server, customer.address)
    event_id = parse_event_id(EVENT)
    now = datetime.now(UTC)
    _log(server, PropagationStep.delivered("consent.revoked", event_id, customer.address, brand.address, occurred, now))
    expect(notice).to_have_attribute("data-told", "verified", timeout=SLOW)  # the page polls while one waits
    expect(notice).to_have_attribute("data-state", "told")
    expect(notice).to_contain_text("waiting for acknowledgement")

    acked = datetime.now(UTC)
    _log(
        server,
        PropagationStep.acknowledged(
            "consent.revoked", event_id, customer.address, brand.address, occurred, acked, "stopped_processing"
        ),
    )
    expect(notice).to_have_attribute("data-acked", "verified", timeout=SLOW)
    expect(notice).to_have_attribute("data-state", "acknowledged")
    expect(notice).to_contain_text("stopped processing your data at")
    expect(notice).to_contain_text("proof verified ✓")
    shot_part(page.locator("#notices-section"), "30-portal-notices-acknowledged")

    def tamper(route) -> None:
        body = route.fetch().json()
        (real,) = body["notices"]
        bad_proof = {**real, "told": {**real["told"], "proof": ["0x" + "00" * 32] * max(len(real["told"]["proof"]), 1)}}
        lying = {**real, "acknowledged": {**real["acknowledged"], "ack": "deleted"}}
        body["notices"] = [real, bad_proof, lying]
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/v1/me/notices", tamper)
    page.locator("#notices-refresh").click()
    items = page.locator("#notices-list li.notice")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_have_attribute("data-told", "verified")
    expect(items.nth(1)).to_have_attribute("data-told", "failed")
    expect(items.nth(1)).to_contain_text("does not lead to the anchored root")
    expect(items.nth(2)).to_have_attribute("data-acked", "failed")
    expect(items.nth(2)).to_contain_text("differs from what is shown here: acknowledgement")
    expect(status(page)).to_contain_text("2 notice steps could NOT be verified")


def test_the_auditor_sees_brands_waiting_for_an_acknowledgement(server, open_page, wallet_for) -> None:
    brand = server.add_brand("Acme Outdoor")
    customer = wallet_for()
    _granted_and_released(server, customer.account, brand)
    page = open_page("/", customer)
    sign_in(page, customer)
    _revoke_in_portal(page, "Acme Outdoor")
    occurred = _revocation_time(server, customer.address)

    auditor = wallet_for(AUDITOR)
    console = open_page("/auditor.html", auditor)
    sign_in(console, auditor)
    waiting = console.locator(f'#waiting-list li.waiting[data-brand="{brand.address}"]')
    expect(waiting).to_contain_text("1 never told")
    expect(waiting.locator('li[data-state="not_told"]')).to_contain_text(customer.address)

    _log(
        server,
        PropagationStep.delivered(
            "consent.revoked", parse_event_id(EVENT), customer.address, brand.address, occurred, datetime.now(UTC)
        ),
    )
    console.locator("#waiting-refresh").click()
    expect(waiting).to_contain_text("1 unacknowledged")
    expect(waiting.locator('li[data-state="unacknowledged"]')).to_contain_text("waiting")
    shot_part(console.locator("#waiting-section"), "31-auditor-unacknowledged")

    _log(
        server,
        PropagationStep.acknowledged(
            "consent.revoked",
            parse_event_id(EVENT),
            customer.address,
            brand.address,
            occurred,
            datetime.now(UTC),
            "stopped_processing",
        ),
    )
    console.locator("#waiting-refresh").click()
    expect(console.locator("#waiting-list")).to_contain_text("Every brand has acknowledged")
