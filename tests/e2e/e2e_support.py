"""Helpers for the browser tests: a test EIP-1193 wallet whose keys live in Python, and page helpers.

The provider injected into the page is a thin shim: every `request` goes to Python through
`page.expose_function`, where eth-account signs exactly as a browser wallet would, so the page's real
code path (hex-encoded personal_sign, eth_signTypedData_v4 with the JSON string, eth_sendTransaction)
runs in a real browser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from playwright.sync_api import Locator, Page, expect

from api_support import api_settings
from consent_ledger.api.app import create_app
from consent_ledger.chain.devnet import free_port
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.composition import AppContext
from live_server import app_in_thread
from waiting import BACKGROUND_TIMEOUT_MS

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "e2e-screenshots"
DEVNET_CHAIN_ID = 31337
SLOW = BACKGROUND_TIMEOUT_MS  # relaying, mining and anchoring happen in background threads

PROVIDER_JS = """
(() => {
  const listeners = {};
  const emit = (event, value) => {
    for (const handler of (listeners[event] || []).slice()) {
      try { handler(value); } catch (error) { console.error(error); }
    }
  };
  const provider = {
    isTestWallet: true,
    async request({ method, params }) {
      const reply = await window.__consentTestWallet(method, params === undefined ? [] : params);
      if (reply.error) {
        const error = new Error(reply.error.message);
        error.code = reply.error.code;
        throw error;
      }
      if (method === "wallet_switchEthereumChain") emit("chainChanged", params[0].chainId);
      return reply.result;
    },
    on(event, handler) { (listeners[event] = listeners[event] || []).push(handler); return provider; },
    removeListener(event, handler) {
      listeners[event] = (listeners[event] || []).filter((h) => h !== handler);
      return provider;
    },
    _emit: emit,
  };
  window.ethereum = provider;
  window.dispatchEvent(new Event("ethereum#initialized"));
})();
"""


class WalletRefusal(Exception):  # noqa: N818 -- an EIP-1193 error the wallet answers with
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


USER_REJECTED = 4001


@dataclass
class BrowserWallet:
    """An EIP-1193 wallet for one account. `reject` names methods the user turns down (error 4001)."""

    account: LocalAccount
    rpc: RpcClient
    chain_id: int = DEVNET_CHAIN_ID
    known_chains: set[int] = field(default_factory=lambda: {DEVNET_CHAIN_ID})
    reject: set[str] = field(default_factory=set)
    connected: bool = False
    calls: list[str] = field(default_factory=list)
    added_chains: list[dict[str, Any]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return str(self.account.address)

    def install(self, page: Page) -> None:
        page.expose_function("__consentTestWallet", self.handle)
        page.add_init_script(PROVIDER_JS)

    def handle(self, method: str, params: list[Any]) -> dict[str, Any]:
        self.calls.append(method)
        try:
            return {"result": self._answer(method, params)}
        except WalletRefusal as refusal:
            return {"error": {"code": refusal.code, "message": refusal.message}}

    def _answer(self, method: str, params: list[Any]) -> Any:
        if method in self.reject:
            raise WalletRefusal(USER_REJECTED, "User rejected the request.")
        return self._dispatch(method, params)

    def _own(self, address: str) -> None:
        if not self.connected or address.lower() != self.address.lower():
            raise WalletRefusal(4100, f"the account {address} has not been authorised by the user")

    def _dispatch(self, method: str, params: list[Any]) -> Any:
        if method == "eth_requestAccounts":
            self.connected = True
            return [self.address]
        if method == "eth_accounts":
            return [self.address] if self.connected else []
        if method == "eth_chainId":
            return hex(self.chain_id)
        if method == "personal_sign":
            self._own(params[1])
            signed = Account.sign_message(encode_defunct(hexstr=params[0]), self.account.key)
            return "0x" + signed.signature.hex()
        if method == "eth_signTypedData_v4":
            self._own(params[0])
            typed = json.loads(params[1])
            if int(typed["domain"]["chainId"]) != self.chain_id:  # as MetaMask does
                raise WalletRefusal(-32602, f"Provided chainId {typed['domain']['chainId']} must match {self.chain_id}")
            signed = Account.sign_typed_data(self.account.key, full_message=typed)
            return "0x" + signed.signature.hex()
        if method == "wallet_switchEthereumChain":
            wanted = int(params[0]["chainId"], 16)
            if wanted not in self.known_chains:
                raise WalletRefusal(4902, f"Unrecognized chain ID {params[0]['chainId']}.")
            self.chain_id = wanted
            return None
        if method == "wallet_addEthereumChain":
            self.added_chains.append(params[0])
            self.known_chains.add(int(params[0]["chainId"], 16))
            return None
        if method == "eth_sendTransaction":
            return self._send(params[0])
        if method == "eth_getTransactionReceipt":
            return self.rpc.request("eth_getTransactionReceipt", params)
        raise WalletRefusal(4200, f"{method} is not supported by the test wallet")

    def _send(self, tx: dict[str, Any]) -> str:
        self._own(tx["from"])
        if self.chain_id != DEVNET_CHAIN_ID:
            raise WalletRefusal(4901, "the test wallet only sends on the devnet")
        self.rpc.request("anvil_setBalance", [self.address, hex(10**18)])
        call = {"from": self.address, "to": tx["to"], "data": tx["data"]}
        unsigned = {
            "to": tx["to"],
            "data": tx["data"],
            "value": int(tx.get("value", "0x0"), 16),
            "gas": int(self.rpc.request("eth_estimateGas", [call]), 16) * 2,
            "gasPrice": int(self.rpc.request("eth_gasPrice"), 16) * 2,
            "nonce": int(self.rpc.request("eth_getTransactionCount", [self.address, "pending"]), 16),
            "chainId": self.chain_id,
        }
        signed = Account.sign_transaction(unsigned, self.account.key)
        tx_hash = str(self.rpc.request("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()]))
        self.sent.append(tx_hash)
        return tx_hash


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot under build/e2e-screenshots/ (git-ignored), for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # the sticky status bar then sits at the top
    page.screenshot(path=str(path), full_page=True)
    return path


def shot_part(locator: Locator, name: str) -> Path:
    """A screenshot of one part of a page (a section), at full resolution."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # Keep the sticky status bar out of the picture (CSSOM from a script: the page's CSP allows it).
    locator.page.evaluate("document.getElementById('status').style.position = 'static'")
    locator.screenshot(path=str(path))
    locator.page.evaluate("document.getElementById('status').style.position = ''")
    return path


def status(page: Page) -> Locator:
    return page.locator("#status")


def sign_in(page: Page, wallet: BrowserWallet) -> None:
    """Connect the wallet and sign in through the page's own buttons."""
    page.get_by_role("button", name="Connect wallet").click()
    expect(page.locator("#wallet-address")).to_contain_text(wallet.address)
    page.get_by_role("button", name="Sign in with your wallet").click()
    expect(page.locator("#session-text")).to_contain_text(f"Signed in as {wallet.address}")


def grant_in_portal(
    page: Page,
    brand_address: str,
    categories: list[str] | None = None,
    purposes: list[str] | None = None,
    days: int = 30,
    allow: dict[str, list[str]] | None = None,
) -> None:
    """Fill the grant form purpose by purpose by visible labels (`allow`: purpose label -> data labels;
    or the same `categories` for each of `purposes`), sign, and wait until the relayer confirmed it."""
    chosen = allow if allow is not None else {p: list(categories or []) for p in purposes or []}
    page.get_by_label("Brand", exact=True).select_option(brand_address)
    for purpose, data in chosen.items():
        page.get_by_label(purpose, exact=True).check()
        for label in data:
            page.get_by_label(f"{label} for {purpose}", exact=True).check()
    page.get_by_label("For how many days").fill(str(days))
    previous = page.locator("#progress").get_attribute("data-id") or ""
    page.get_by_role("button", name="Sign and grant").click()
    wait_for_submission(page, previous)
    expect(page.locator("#progress-text")).to_contain_text("grant is confirmed on-chain")


def wait_for_submission(page: Page, previous: str, final: str = "confirmed") -> None:
    """Wait until a new submission (not `previous`) shows the `final` status in the progress panel."""
    progress = page.locator("#progress")
    expect(progress).not_to_have_attribute("data-id", previous, timeout=SLOW)
    expect(progress).to_have_attribute("data-status", final, timeout=SLOW)


@dataclass
class Server:
    url: str
    context: AppContext

    def add_brand(self, name: str = "Acme Outdoor") -> LocalAccount:
        account: LocalAccount = Account.create()
        self.context.brands.add(account.address, name)
        return account


@contextmanager
def serve_app(chain: Any, tmp_path: Path, **settings: Any) -> Iterator[Server]:
    """The real app on a free port, serving the web pages at `/`, with its background workers; `settings`
    override the e2e defaults (fast relaying, an anchor per leaf)."""
    port = free_port()
    options: dict[str, Any] = {"relayer_interval": 0.05, "anchor_every_leaves": 1, **settings}
    app_settings = api_settings(
        chain, f"sqlite:///{tmp_path / 'e2e.db'}", tmp_path, api_port=port, siwe_domain=f"127.0.0.1:{port}", **options
    )
    app = create_app(app_settings, run_relayer=True)
    with app_in_thread(app, port):
        yield Server(f"http://127.0.0.1:{port}", app.state.context)


def shown(value: Any) -> str:
    """A JSON value as the pages print it (JavaScript's String())."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def drawn_pixels(page: Page, chart: str) -> int:
    """How many pixels of the chart `#<chart>`'s canvas are drawn (not transparent)."""
    return int(
        page.evaluate(
            """(id) => {
              const canvas = document.querySelector(`#${id} canvas`);
              const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
              let n = 0;
              for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n += 1;
              return n;
            }""",
            chart,
        )
    )
