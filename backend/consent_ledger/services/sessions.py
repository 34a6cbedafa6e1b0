"""Sign-in: issue SIWE challenges, verify signed ones, hand out short-lived bearer tokens, and on every request
turn a token back into a principal whose roles come from the configuration and the database as they are now."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from consent_ledger.addresses import checksum_address
from consent_ledger.apikeys import API_KEY_PREFIX, ApiKeyStore
from consent_ledger.auth import siwe
from consent_ledger.auth.nonces import NonceStore
from consent_ledger.auth.roles import Principal, Role, roles_for
from consent_ledger.auth.tokens import TokenSigner
from consent_ledger.brands.registry import BrandRegistry

CHALLENGE_TTL = timedelta(minutes=10)
STATEMENT = "Sign in to Consent Ledger to manage your data-sharing grants."


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Login:
    token: str
    principal: Principal

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "token_type": "Bearer",
            "address": self.principal.address,
            "roles": sorted(self.principal.roles),
            "expires_at": self.principal.expires_at.isoformat(),
        }


class SessionService:
    def __init__(
        self,
        nonces: NonceStore,
        signer: TokenSigner,
        domains: Sequence[str],
        chain_id: int,
        brands: BrandRegistry,
        auditors: Collection[str],
        keys: ApiKeyStore,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.nonces = nonces
        self.signer = signer
        self.domains = list(domains)  # the first is the default; every one is a name of this server
        self.chain_id = chain_id
        self.brands = brands
        self.auditors = {a.lower() for a in auditors}
        self.keys = keys
        self._clock = clock

    def domain_for(self, host: str | None) -> str:
        """The domain a message must name: the caller's Host when it is one of ours, else the default."""
        return host if host in self.domains else self.domains[0]

    def challenge(self, address: str | None, host: str | None = None) -> dict[str, Any]:
        """A fresh nonce; with an address, also the exact EIP-4361 text to sign."""
        now = self._clock()
        nonce = self.nonces.issue(now)
        domain = self.domain_for(host)
        uri = f"http://{domain}"
        answer: dict[str, Any] = {"nonce": nonce, "domain": domain, "uri": uri, "chain_id": self.chain_id}
        if address:
            message = siwe.SiweMessage(
                domain=domain,
                address=checksum_address(address),
                statement=STATEMENT,
                uri=uri,
                chain_id=self.chain_id,
                nonce=nonce,
                issued_at=now.replace(microsecond=0),
                expiration_time=(now + CHALLENGE_TTL).replace(microsecond=0),
            )
            answer["message"] = message.to_text()
        return answer

    def login(self, message: str, signature: str) -> Login:
        now = self._clock()
        claimed = siwe.parse(message).domain
        verified = siwe.verify(
            message,
            signature,
            domain=claimed if claimed in self.domains else self.domains[0],
            chain_id=self.chain_id,
            nonce_is_valid=lambda nonce: self.nonces.consume(nonce, now),
            now=now,
        )
        token = self.signer.issue(verified.address, now)
        return Login(token, self._principal(token, now))

    def authenticate(self, token: str) -> Principal:
        """The caller behind `token`, with the roles it holds now: a brand removed from the registry or an
        address removed from CONSENT_AUDITORS loses that role at once, whatever tokens it holds.
        A brand's API key (`clk_...`) gives the brand role alone (while the brand is registered), with the
        key's permissions; a revoked or expired key is refused at once (its row is read every time)."""
        if token.startswith(API_KEY_PREFIX):
            key = self.keys.authenticate(token)
            roles = frozenset({Role.BRAND}) if self.brands.is_brand(key.brand) else frozenset()
            return Principal(key.brand, frozenset(roles), key.expires_at, key.key_id, key.permissions)
        return self._principal(token, self._clock())

    def _principal(self, token: str, now: datetime) -> Principal:
        identity = self.signer.verify(token, now)
        roles = roles_for(identity.address, is_brand=self.brands.is_brand(identity.address), auditors=self.auditors)
        return Principal(identity.address, frozenset(roles), identity.expires_at)
