"""The newcomer's path of issue 11 ("Done when"), in Chromium against the real app with its background jobs:
a brand's API key, `consent-ledger webhook listen --register` running as a real process, a revocation signed
in the portal; the listener prints the consent.revoked event and acknowledges it, and the portal shows the
brand told and acknowledged ("stopped processing"), both proofs verified in the browser."""

from __future__ import annotations

import httpx
import pytest
from e2e_support import SLOW, shot_part, sign_in
from playwright.sync_api import expect
from test_e2e_notices import _revoke_in_portal
from test_e2e_views import _granted_and_released

from api_support import Api
from listen_support import listening

pytestmark = pytest.mark.e2e


def test_a_revocation_in_the_portal_arrives_at_the_listener_and_shows_acknowledged(
    server, open_page, wallet_for, tmp_path
) -> None:
    brand = server.add_brand("Acme Outdoor")
    customer = wallet_for()
    _granted_and_released(server, customer.account, brand)
    with httpx.Client(base_url=server.url) as http:  # as the brand console does, with the brand's wallet
        brand_auth = Api(http, server.context).sign_in(brand)  # type: ignore[arg-type]
        made = http.post(
            "/v1/brand/api-keys", json={"name": "listener", "permissions": ["webhooks:manage"]}, headers=brand_auth
        )
        assert made.status_code == 201, made.text
    flags = ("--register", "--server", server.url, "--api-key", made.json()["key"], "--port", "0")
    with listening(tmp_path, *flags, "--events", "consent.revoked") as listener:
        page = open_page("/", customer)
        sign_in(page, customer)
        _revoke_in_portal(page, "Acme Outdoor")
        line = listener.wait_for_line(lambda text: text.startswith("consent.revoked"))
        assert f"customer {customer.address}" in line
        assert line.endswith("-> ack stopped_processing")

        notice = page.locator(f'#notices-list li.notice[data-brand="{brand.address}"]')
        expect(notice).to_have_attribute("data-acked", "verified", timeout=SLOW)  # the page polls while one waits
        expect(notice).to_have_attribute("data-told", "verified")
        expect(notice).to_have_attribute("data-state", "acknowledged")
        expect(notice).to_contain_text("stopped processing your data at")
        expect(notice).to_contain_text("proof verified ✓")
        shot_part(page.locator("#notices-section"), "43-portal-revocation-acknowledged-by-listener")
        assert listener.interrupt() == 0
    assert "deleted endpoint" in listener.stderr()
