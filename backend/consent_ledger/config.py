"""Settings: one pydantic-settings class, read from CONSENT_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORT = 8545
# The first account anvil derives from its default test mnemonic. Public knowledge, never a real secret.
ANVIL_DEFAULT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def _default_root() -> Path:
    """The project checkout: backend/consent_ledger/config.py -> three levels up."""
    return Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Everything configurable. Paths default to the project checkout."""

    model_config = SettingsConfigDict(env_prefix="CONSENT_", extra="ignore")

    env: str = Field(default="development", description="development | test | production")
    project_root: Path = Field(default_factory=_default_root)
    rpc_url: str = Field(default=f"http://127.0.0.1:{DEFAULT_PORT}", description="JSON-RPC endpoint")
    devnet_port: int = DEFAULT_PORT
    deployer_key: str | None = Field(
        default=None, description="Hex private key that deploys (dev only; defaults to anvil's first key)"
    )
    deployments_dir: Path | None = None
    build_dir: Path | None = None
    var_dir: Path | None = None

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
