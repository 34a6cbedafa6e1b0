"""The secrets of this installation: the bearer-token HMAC key, the vault master key and the webhook
signing key (an ed25519 seed).

Set them with CONSENT_TOKEN_SECRET, CONSENT_MASTER_KEY and CONSENT_WEBHOOK_SIGNING_KEY; production
must (every replica needs the same ones, and generated files would differ per machine). Outside
production, a missing one is made on first use from `secrets.token_bytes(32)` and kept under
`var/secrets/` (the folder 0700, each file 0600, created exclusively so two processes starting at once
agree on one value), so no installation ever runs on a secret that is written in the code. A secret
file that others may read, or that belongs to another user, is refused. The public development values
of earlier versions are refused everywhere, by fingerprint.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from consent_ledger.config import Settings
from consent_ledger.errors import ConfigError

SECRET_BYTES = 32
TOKEN_FILE = "token-secret"  # noqa: S105 -- a file name
MASTER_KEY_FILE = "master-key"
WEBHOOK_SIGNING_KEY_FILE = "webhook-signing-key"
# The token secret and the master key that versions before this one wrote in config.py and used by
# default are public, so never accepted again: the SHA-256 of that token secret, and the vault's
# fingerprint (`MasterKey.key_id`) of that master key.
RETIRED_TOKEN_SECRET = "5abe83bfc40d2f47df72e53575591cfaf38287b77d611fffb29c59b46c43b817"  # noqa: S105 -- a digest
RETIRED_MASTER_KEY_ID = "232f9f50e66c7c3a"


@dataclass(frozen=True)
class InstallationSecrets:
    token_secret: bytes
    master_key: str  # as configured: 64 hex digits or base64 of 32 bytes
    master_key_source: str  # where it came from, for messages: the variable or the file


def secrets_dir(settings: Settings) -> Path:
    return settings.var_path / "secrets"


def load_secrets(settings: Settings) -> InstallationSecrets:
    """The configured secrets, or (outside production) this installation's generated ones."""
    if settings.token_secret is not None:
        token = settings.token_secret.get_secret_value().encode()
    else:
        token = _generated(settings, TOKEN_FILE, "CONSENT_TOKEN_SECRET").encode()
    if settings.master_key is not None:
        master, source = settings.master_key.get_secret_value(), "CONSENT_MASTER_KEY"
    else:
        master = _generated(settings, MASTER_KEY_FILE, "CONSENT_MASTER_KEY")
        source = str(secrets_dir(settings) / MASTER_KEY_FILE)
    if hashlib.sha256(token).hexdigest() == RETIRED_TOKEN_SECRET:
        raise ConfigError(
            "CONSENT_TOKEN_SECRET is the public development secret of earlier versions: anyone could sign tokens "
            "with it. Unset it (a random one is made for this installation) or set your own 32+ random bytes."
        )
    return InstallationSecrets(token, master, source)


def load_webhook_signing_seed(settings: Settings) -> tuple[str, str]:
    """The webhook signing key's seed as configured (base64 of 32 bytes), and where it came from."""
    if settings.webhook_signing_key is not None:
        return settings.webhook_signing_key.get_secret_value(), "CONSENT_WEBHOOK_SIGNING_KEY"
    seed = _generated(settings, WEBHOOK_SIGNING_KEY_FILE, "CONSENT_WEBHOOK_SIGNING_KEY")
    return seed, str(secrets_dir(settings) / WEBHOOK_SIGNING_KEY_FILE)


def refuse_retired_master_key(key_id: str) -> None:
    """Raise if `key_id` (a master key's fingerprint) names the public development key of earlier versions."""
    if key_id == RETIRED_MASTER_KEY_ID:
        raise ConfigError(
            "CONSENT_MASTER_KEY is the public development key of earlier versions: anyone could decrypt the vault "
            "with it. Unset it (a random one is made for this installation) or set your own."
        )


def _generated(settings: Settings, name: str, variable: str) -> str:
    if settings.env == "production":
        raise ConfigError(
            f"{variable} is not set: production needs its own secret, the same on every replica "
            '(make one with: python -c "import secrets; print(secrets.token_urlsafe(32))")'
        )
    folder = secrets_dir(settings)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_private(folder, 0o077, "chmod 700")
    path = folder / name
    if not path.exists():
        _create(path, base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode())
    _check_private(path, 0o077, "chmod 600")
    text = path.read_text().strip()
    if not text:
        raise ConfigError(f"{path} is empty: delete it to make a new secret, or set {variable}")
    return text


def _create(path: Path, value: str) -> None:
    """Write `value` to a private temporary file, then link it into place: a reader never sees a half
    written secret, and of two processes starting at once the second keeps the first one's."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(value + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(temporary, path)
    finally:
        temporary.unlink()


def _check_private(path: Path, forbidden: int, fix: str) -> None:
    info = path.stat()
    if info.st_uid != os.getuid():
        raise ConfigError(f"{path} belongs to another user (uid {info.st_uid}): secrets must be the owner's alone")
    if stat.S_IMODE(info.st_mode) & forbidden:
        raise ConfigError(f"{path} is readable by others (mode {stat.S_IMODE(info.st_mode):o}): run `{fix} {path}`")
