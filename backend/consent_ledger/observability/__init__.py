"""Structured logs and Prometheus metrics: what an operator reads, never a secret or a personal value."""
