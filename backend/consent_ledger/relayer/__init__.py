"""The relayer: a durable outbox of signed messages and the worker that lands them on-chain."""
