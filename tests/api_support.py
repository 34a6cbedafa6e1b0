"""Helpers for API tests: an HTTP client on the real app, sign-in and signing exactly as a wallet would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from consent_ledger.composition import AppContext
from consent_ledger.config import ANVIL_RELAYER_KEY, Settings
from consent_ledger.db.migrate import upgrade

PROFILE = {
    "email": {"category": "contact.email", "value": "ada@example.org"},
    "phone": {"category": "contact.phone", "value": "+44 20 7946 0000"},
    "interests": {"category": "interests", "value": "hiking, climbing"},
    "city": {"category": "location.coarse", "value": "Leeds"},
}

AUDITOR = Account.from_key("0x" + "a1" * 32)


@dataclass
class Api:
    client: TestClient
    context: AppContext

    def sign_in(self, account: LocalAccount) -> dict[str, str]:
        challenge = self.client.get("/v1/auth/nonce", params={"address": account.address}).json()
        signature = Account.sign_message(encode_defunct(text=challenge["message"]), account.key).signature
        reply = self.client.post(
            "/v1/auth/login", json={"message": challenge["message"], "signature": "0x" + signature.hex()}
        )
        assert reply.status_code == 200, reply.text
        return {"Authorization": f"Bearer {reply.json()['token']}"}

    def brand(self, name: str = "Acme Outdoor") -> tuple[LocalAccount, dict[str, str]]:
        account: LocalAccount = Account.create()
        self.context.brands.add(account.address, name)
        return account, self.sign_in(account)

    def customer(self) -> tuple[LocalAccount, dict[str, str]]:
        account: LocalAccount = Account.create()
        return account, self.sign_in(account)

    def grant(
        self,
        customer: LocalAccount,
        auth: dict[str, str],
        brand: str,
        categories: list[str],
        purposes: list[str],
        **extra: Any,
    ) -> dict[str, Any]:
        """Fetch typed data, sign it exactly as a wallet would, submit."""
        typed = self.client.post(
            "/v1/me/typed-data/grant",
            json={"brand": brand, "categories": categories, "purposes": purposes, **extra},
            headers=auth,
        )
        assert typed.status_code == 200, typed.text
        signature = Account.sign_typed_data(customer.key, full_message=typed.json()).signature
        reply = self.client.post(
            "/v1/me/submissions",
            json={"kind": "grant", "message": typed.json()["message"], "signature": "0x" + signature.hex()},
            headers=auth,
        )
        assert reply.status_code == 202, reply.text
        return dict(reply.json())

    def revoke(self, customer: LocalAccount, auth: dict[str, str], brand: str) -> dict[str, Any]:
        typed = self.client.post("/v1/me/typed-data/revoke", json={"brand": brand}, headers=auth)
        assert typed.status_code == 200, typed.text
        signature = Account.sign_typed_data(customer.key, full_message=typed.json()).signature
        reply = self.client.post(
            "/v1/me/submissions",
            json={"kind": "revoke", "message": typed.json()["message"], "signature": "0x" + signature.hex()},
            headers=auth,
        )
        assert reply.status_code == 202, reply.text
        return dict(reply.json())

    def relay(self) -> None:
        self.context.relayer.drain()


def api_settings(chain, database_url: str, tmp_path, *, migrate: bool = True, **overrides: Any) -> Settings:
    """Settings for an app on the session chain; the database is migrated first (as `consent-ledger db
    upgrade` is run before `serve`)."""
    if migrate:
        upgrade(database_url)
    values: dict[str, Any] = {
        "env": "test",
        "rpc_url": chain.rpc.url,
        "deployments_dir": chain.deployments_dir,
        "database_url": database_url,
        "var_dir": tmp_path / "var",
        "relayer_key": ANVIL_RELAYER_KEY,
        "auditors": [AUDITOR.address],
        "siwe_domain": "testserver",
    }
    values.update(overrides)
    return Settings(**values)


def release_to(api: Api, brand_auth: dict[str, str], customer: str) -> dict[str, Any]:
    reply = api.client.post(
        "/v1/releases",
        json={"customers": [customer], "categories": ["contact.email", "interests"], "purpose": "marketing.email"},
        headers=brand_auth,
    )
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def with_a_grant(api: Api) -> tuple[LocalAccount, dict[str, str], LocalAccount, dict[str, str]]:
    """A brand, and a customer with data who granted it contact.email and interests for marketing.email."""
    brand, brand_auth = api.brand()
    customer, auth = api.customer()
    assert api.client.put("/v1/me/data", json={"fields": PROFILE}, headers=auth).status_code == 204
    api.grant(customer, auth, brand.address, ["contact.email", "interests"], ["marketing.email"])
    api.relay()
    return brand, brand_auth, customer, auth
