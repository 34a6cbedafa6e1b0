"""Use cases that combine the chain, the vault and the audit log."""
