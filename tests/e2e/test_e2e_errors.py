"""What goes wrong in real life, in a real browser: no wallet installed, a signature the user rejects, a
wallet on the wrong network, a revocation transaction rejected then sent, and the wrong role."""

from __future__ import annotations

import pytest
from e2e_support import DEVNET_CHAIN_ID, SLOW, grant_in_portal, shot, sign_in, status
from playwright.sync_api import expect

from api_support import AUDITOR

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("path", ["/", "/brand.html", "/auditor.html"])
def test_no_wallet_explains_what_to_install(open_page, path) -> None:
    page = open_page(path)
    help_box = page.locator("#no-wallet")
    expect(help_box).to_be_visible()
    expect(help_box).to_contain_text("This page needs a browser wallet")
    for words in ("MetaMask", "Rabby", "Coinbase Wallet", "http://127.0.0.1:8545", "README"):
        expect(help_box).to_contain_text(words)
    expect(help_box.locator(".api-chain-id")).to_have_text(str(DEVNET_CHAIN_ID))
    expect(page.locator("#wallet-box")).to_be_hidden()
    expect(page.get_by_role("button", name="Connect wallet")).to_be_hidden()
    if path == "/":
        expect(page.locator("#notice-text p").first).to_contain_text("Consent Ledger lets you decide")
        expect(page.get_by_role("button", name="Sign and grant")).to_be_disabled()
    shot(page, f"10-no-wallet-{path.strip('/').removesuffix('.html') or 'portal'}")


def test_rejected_signatures_send_nothing(server, open_page, wallet_for) -> None:
    brand = server.add_brand("Acme Outdoor")
    customer = wallet_for(reject={"personal_sign"})
    page = open_page("/", customer)

    page.get_by_role("button", name="Connect wallet").click()
    page.get_by_role("button", name="Sign in with your wallet").click()
    expect(status(page)).to_have_text("You rejected the signature; nothing was sent.")
    expect(status(page)).to_have_class("status is-error")
    expect(page.locator("#account")).to_be_hidden()
    expect(page.get_by_role("button", name="Sign in with your wallet")).to_be_enabled()
    shot(page, "11-signature-rejected")

    customer.reject = {"eth_signTypedData_v4"}
    page.get_by_role("button", name="Sign in with your wallet").click()
    expect(page.locator("#session-text")).to_contain_text("Signed in as")
    page.get_by_label("Brand", exact=True).select_option(brand.address)
    page.get_by_label("Email marketing", exact=True).check()
    page.get_by_label("Email address for Email marketing", exact=True).check()
    page.get_by_role("button", name="Sign and grant").click()
    expect(status(page)).to_have_text("You rejected the signature; nothing was sent.")
    expect(page.locator("#progress")).to_be_hidden()
    assert server.context.outbox.list_for(customer.address) == []
    assert "eth_signTypedData_v4" in customer.calls

    # Accepting the next time goes through.
    customer.reject = set()
    page.get_by_role("button", name="Sign and grant").click()
    expect(page.locator("#progress")).to_have_attribute("data-status", "confirmed", timeout=SLOW)


def test_wrong_network_prompts_and_switches(server, open_page, wallet_for) -> None:
    brand = server.add_brand("Acme Outdoor")
    customer = wallet_for(chain_id=1, known_chains={1})  # mainnet, and the wallet has never seen the devnet
    page = open_page("/", customer)

    page.get_by_role("button", name="Connect wallet").click()
    warning = page.locator("#network-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Your wallet is on Ethereum mainnet (chain 1)")
    expect(warning).to_contain_text("the local Anvil devnet (chain 31337)")
    expect(page.get_by_role("button", name="Sign in with your wallet")).to_be_hidden()
    expect(status(page)).to_contain_text("wrong network")
    shot(page, "12-wrong-network")

    # 4902 (unknown chain): the page offers the devnet to the wallet, then switches.
    page.get_by_role("button", name="Switch network").click()
    expect(warning).to_be_hidden()
    assert customer.chain_id == DEVNET_CHAIN_ID
    assert customer.added_chains[0]["rpcUrls"] == ["http://127.0.0.1:8545"]
    assert customer.added_chains[0]["chainId"] == hex(DEVNET_CHAIN_ID)
    page.get_by_role("button", name="Sign in with your wallet").click()
    expect(page.locator("#session-text")).to_contain_text("Signed in as")

    # The user switches away in the wallet: the page notices and refuses to ask for a signature.
    customer.chain_id = 1
    page.evaluate("window.ethereum._emit('chainChanged', '0x1')")
    expect(warning).to_be_visible()
    page.get_by_label("Brand", exact=True).select_option(brand.address)
    page.get_by_label("Email marketing", exact=True).check()
    page.get_by_label("Email address for Email marketing", exact=True).check()
    page.get_by_role("button", name="Sign and grant").click()
    expect(status(page)).to_contain_text("Your wallet is on the wrong network: switch to the local Anvil devnet")
    expect(page.get_by_role("button", name="Switch network")).to_be_focused()
    assert "eth_signTypedData_v4" not in customer.calls


def test_revoke_directly_from_the_wallet(server, open_page, wallet_for, chain) -> None:
    brand = server.add_brand("Acme Outdoor")
    customer = wallet_for()
    page = open_page("/", customer)
    sign_in(page, customer)
    grant_in_portal(page, brand.address, ["Email address"], ["Email marketing"])
    expect(page.locator("#grants-list li.item")).to_have_count(1)

    direct = page.get_by_role("button", name="Revoke the grant to Acme Outdoor directly from my wallet")
    customer.reject = {"eth_sendTransaction"}
    direct.click()
    expect(status(page)).to_have_text("You rejected the transaction; nothing was sent.")
    expect(page.locator("#grants-list li.item")).to_have_count(1)

    customer.reject = set()
    direct.click()
    expect(status(page)).to_contain_text("Revoked directly on-chain in block")
    expect(page.locator("#grants-list")).to_contain_text("You have no active grants")
    (tx_hash,) = customer.sent
    receipt = chain.rpc.request("eth_getTransactionReceipt", [tx_hash])
    assert receipt["status"] == "0x1"
    assert receipt["from"].lower() == customer.address.lower()  # sent by the customer, not by our relayer
    assert receipt["to"].lower() == server.context.deployment.address.lower()
    assert not chain.ledger().grant_of(customer.address, brand.address).active_at(chain.now())
    shot(page, "13-revoked-directly")


def test_brand_console_needs_a_registered_brand(server, open_page, wallet_for) -> None:
    stranger = wallet_for()
    page = open_page("/brand.html", stranger)
    sign_in(page, stranger)
    warning = page.locator("#role-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(f"{stranger.address} is not a registered brand")
    expect(warning).to_contain_text("consent-ledger brand add")
    expect(page.locator("#query-section")).to_be_hidden()
    shot(page, "14-brand-not-registered")


def test_auditor_console_needs_the_auditor_role(server, open_page, wallet_for) -> None:
    stranger = wallet_for()
    page = open_page("/auditor.html", stranger)
    sign_in(page, stranger)
    expect(page.locator("#role-warning")).to_contain_text("is not an auditor")
    expect(page.locator("#audit")).to_be_hidden()

    auditor = wallet_for(AUDITOR)
    other = open_page("/auditor.html", auditor)
    sign_in(other, auditor)
    expect(other.locator("#role-warning")).to_be_hidden()
    expect(other.locator("#audit")).to_be_visible()
