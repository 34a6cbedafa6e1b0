"""Settings: one pydantic-settings class, read from CONSENT_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from consent_ledger.errors import ConfigError

DEFAULT_PORT = 8545
API_PORT = 8000
# anvil's first two accounts from its default test mnemonic. Public knowledge, never real secrets:
# the first deploys on the devnet, the second relays customers' signed messages there.
DEVNET_CHAIN_ID = 31337  # anvil's chain id: the local devnet
ANVIL_DEFAULT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_RELAYER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
# Public keys, refused as the relayer's when CONSENT_ENV=production.
DEV_SECRETS = frozenset({ANVIL_DEFAULT_KEY, ANVIL_RELAYER_KEY})


def _default_root() -> Path:
    """The project checkout (backend/consent_ledger/config.py -> three levels up) when running from one;
    installed from a wheel, the current directory (var/ and deployments/ then live there)."""
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "contracts").is_dir() else Path.cwd()


class Settings(BaseSettings):
    """Everything configurable. Paths default to the project checkout."""

    model_config = SettingsConfigDict(env_prefix="CONSENT_", extra="ignore")

    env: str = Field(default="development", description="development | test | production")
    project_root: Path = Field(default_factory=_default_root)
    rpc_url: str = Field(default=f"http://127.0.0.1:{DEFAULT_PORT}", description="JSON-RPC endpoint")
    rpc_timeout: float = Field(default=1.5, gt=0, description="seconds a JSON-RPC call may wait for the node")
    rpc_slow_timeout: float = Field(
        default=30.0, gt=0, description="...for calls slow by nature (gas estimates, sending, log queries)"
    )
    rpc_cooldown: float = Field(
        default=1.0, gt=0, description="seconds calls fail at once after the node failed to answer"
    )
    devnet_port: int = DEFAULT_PORT
    deployer_key: str | None = Field(
        default=None, description="Hex private key that deploys (dev only; defaults to anvil's first key)"
    )
    deployments_dir: Path | None = None
    build_dir: Path | None = None
    var_dir: Path | None = None

    # backend
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: an SQLite file per deployment under var/"
    )
    master_key: SecretStr | None = Field(
        default=None, description="vault master key, base64 or hex of 32 bytes; default: generated under var/secrets/"
    )
    token_secret: SecretStr | None = Field(
        default=None, description="HMAC key for bearer tokens (32+ bytes); default: generated under var/secrets/"
    )
    token_ttl: int = Field(default=900, ge=60, le=86_400)
    relayer_key: SecretStr | None = Field(default=None, description="hex key (dev); prefer relayer_keystore")
    relayer_keystore: Path | None = None
    relayer_password_file: Path | None = None
    relayer_batch_size: int = Field(default=50, ge=1, le=200)
    relayer_interval: float = Field(
        default=0.2, gt=0, description="seconds between outbox polls (and the indexer's looks at the head)"
    )
    relayer_max_backoff: float = Field(default=30.0, gt=0, description="longest wait between retries of a row")
    relayer_replace_after: float = Field(
        default=30.0, gt=0, description="seconds a sent transaction may stay pending before it is sped up (same nonce)"
    )
    lease_seconds: float = Field(
        default=5.0, gt=0, description="term of a background job's lease: a dead leader is replaced within about this"
    )
    background_jobs: bool = Field(default=True, description="run relayer, anchorer and indexer (under leases)")
    confirmations: int = Field(default=0, ge=0, description="blocks behind head the gatekeeper decides at")
    api_host: str = "127.0.0.1"
    api_port: int = API_PORT
    siwe_domain: str | None = Field(default=None, description="domain SIWE messages must name (default host:port)")
    auditors: Annotated[list[str], NoDecode] = Field(default_factory=list, description="comma-separated addresses")
    anchor_every_leaves: int = Field(default=100, ge=1, description="anchor once this many leaves are unanchored")
    anchor_every_seconds: float = Field(default=60.0, gt=0, description="...or once this much time has passed")
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, description="largest request body (413 above)")
    rate_limit_storage: str = Field(
        default="memory://",
        description="`limits` storage URI for rate-limit counters; memory:// counts per replica (N replicas "
        "allow N times each limit), a shared redis:// or memcached:// store counts once across replicas",
    )
    rate_limit_per_address: str = Field(
        default="100/second;3000/minute",
        description="requests per client network address (health, readiness and metrics excepted); '' = none",
    )
    rate_limit_per_identity: str = Field(
        default="50/second;1500/minute", description="requests per signed-in address (token subject); '' = none"
    )
    rate_limit_nonces_per_address: str = Field(
        default="60/minute;600/hour", description="GET /v1/auth/nonce per client network address; '' = none"
    )
    max_pending_nonces: int = Field(
        default=10_000, ge=1, description="unused, unexpired sign-in nonces kept in the database (429 above)"
    )
    max_check_questions: int = 10_000
    max_release_customers: int = 1_000
    insight_epsilon_per_query: float = Field(
        default=1.0, gt=0, description="largest epsilon one aggregate insight query may spend"
    )
    insight_epsilon_per_period: float = Field(
        default=10.0, gt=0, description="epsilon each brand may spend on insight queries per budget period"
    )
    insight_period_seconds: int = Field(default=86_400, ge=60, description="length of a privacy-budget period")
    insight_min_group_size: int = Field(
        default=10, ge=1, description="noisy counts below this are suppressed (never shown)"
    )
    webhook_signing_key: SecretStr | None = Field(
        default=None,
        description="ed25519 seed (base64 of 32 bytes) signing webhooks (v1a); default: generated under var/secrets/",
    )
    webhook_dev_destinations: bool | None = Field(
        default=None,
        description="let webhook endpoints use http:// and private or loopback addresses; default: yes outside "
        "production, never in production",
    )
    webhook_retry_base_seconds: float = Field(
        default=10.0, gt=0, description="first retry of a failed webhook within this (full jitter, doubling)"
    )
    webhook_retry_cap_seconds: float = Field(default=21_600.0, gt=0, description="longest wait between retries")
    webhook_dead_after_seconds: float = Field(
        default=259_200.0, gt=0, description="a webhook not delivered this long after it was made is dead"
    )
    webhook_disable_after_seconds: float = Field(
        default=86_400.0, gt=0, description="an endpoint failing without a success for this long is disabled"
    )
    webhook_connect_timeout_seconds: float = Field(
        default=2.0, gt=0, description="seconds to connect to a webhook endpoint"
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="seconds a whole webhook attempt may take (connect, send, answer)"
    )
    webhook_threads: int = Field(default=8, ge=1, le=64, description="webhook deliveries in flight at once")
    webhook_per_endpoint: int = Field(
        default=2, ge=1, le=64, description="...of which at most this many to one endpoint"
    )
    webhook_interval: float = Field(default=0.2, gt=0, description="seconds between the webhook worker's polls")
    ack_within_seconds: int = Field(
        default=86_400,
        ge=0,
        description="a brand not told of a revocation or erasure by then is not_told; told, not acknowledged: "
        "unacknowledged",
    )

    @field_validator("auditors", mode="before")
    @classmethod
    def _split_addresses(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def domain(self) -> str:
        return self.siwe_domain or f"{self.api_host}:{self.api_port}"

    @property
    def domains(self) -> list[str]:
        """Names sign-in messages may carry: the configured one, and on loopback both spellings."""
        names = [self.domain]
        if self.siwe_domain is None and self.api_host in ("127.0.0.1", "localhost", "0.0.0.0"):  # noqa: S104
            names += [f"{alias}:{self.api_port}" for alias in ("127.0.0.1", "localhost") if alias != self.api_host]
        return names

    def check_production(self) -> None:
        """Refuse missing secrets, public keys and a missing relayer key or database when CONSENT_ENV=production."""
        if self.env != "production":
            return
        problems = []
        if self.master_key is None:
            problems.append("CONSENT_MASTER_KEY is not set (every replica needs the same one)")
        if self.token_secret is None:
            problems.append("CONSENT_TOKEN_SECRET is not set (every replica needs the same one)")
        if self.relayer_key is not None and self.relayer_key.get_secret_value() in DEV_SECRETS:
            problems.append("CONSENT_RELAYER_KEY is a public anvil key")
        if self.relayer_key is None and self.relayer_keystore is None:
            problems.append("no relayer key: set CONSENT_RELAYER_KEYSTORE (and CONSENT_RELAYER_PASSWORD_FILE)")
        if self.database_url is None:
            problems.append("CONSENT_DATABASE_URL is not set")
        if self.webhook_signing_key is None:
            problems.append("CONSENT_WEBHOOK_SIGNING_KEY is not set (every replica signs webhooks with the same key)")
        if self.webhook_dev_destinations:
            problems.append("CONSENT_WEBHOOK_DEV_DESTINATIONS is on (webhooks could reach internal addresses)")
        if problems:
            raise ConfigError("refusing to start in production: " + "; ".join(problems))

    @property
    def webhook_dev_destinations_allowed(self) -> bool:
        """Whether webhook endpoints may use http:// and private, loopback or link-local addresses."""
        if self.env == "production":
            return False
        return True if self.webhook_dev_destinations is None else self.webhook_dev_destinations

    @property
    def contracts_dir(self) -> Path:
        return self.project_root / "contracts"

    @property
    def node_modules(self) -> Path:
        return self.project_root / "node_modules"

    @property
    def build_path(self) -> Path:
        return self.build_dir or self.project_root / "build"

    @property
    def var_path(self) -> Path:
        return self.var_dir or self.project_root / "var"

    @property
    def deployments_path(self) -> Path:
        return self.deployments_dir or self.project_root / "deployments"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once on first use (never at import time)."""
    return Settings()
