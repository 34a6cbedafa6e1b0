"""Brands' webhook endpoints: where events go (URL, event types), the secrets that sign them (encrypted
under the vault master key), the installation's ed25519 signing key, and the guard that keeps deliveries
away from internal addresses. The delivery plane (outbox, worker, attempts) builds on these tables."""
