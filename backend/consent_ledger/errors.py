"""One exception hierarchy for the whole package.

Every error we raise on purpose derives from `LedgerError`, and through exactly one of its two
branches: `ClientError` (the caller can fix the request: HTTP 4xx) or `ServerError` (a valid request
we could not serve: our configuration, a dependency, or our own data failed: HTTP 5xx). The API maps
classes to statuses in one place (api/problems.py); the CLI prints `str(error)` and exits non-zero.
Messages say what went wrong and what to do.
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Root of every error Consent Ledger raises on purpose. Never raised itself: raise a subclass of
    `ClientError` or `ServerError`."""


class ClientError(LedgerError):
    """The request cannot be served as it is; the caller can fix it (HTTP 4xx). Nothing was changed."""


class ServerError(LedgerError):
    """A valid request could not be served: configuration, a dependency or our own data failed (HTTP 5xx)."""


class ConfigError(ServerError):
    """A setting is missing or invalid."""


class ToolchainError(ServerError):
    """A build tool (solc, node, anvil) is missing or failed."""


class CompileError(ToolchainError):
    """The Solidity sources did not compile; `problems` holds `file:line:col: message` lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("compilation failed:\n" + "\n".join(problems))


class DevnetError(ServerError):
    """The local anvil node could not be started, reached or stopped."""


class ChainError(ServerError):
    """Talking to the chain failed."""


class NodeUnavailableError(ChainError):
    """The JSON-RPC endpoint did not answer."""


class WrongChainError(ChainError):
    """The node is on a different chain than expected; `url` is the node as shown to people (redacted)."""

    def __init__(self, expected: int, actual: int, url: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"the node at {url} is on chain {actual}, expected {expected}: are you connected to the right network?"
        )


class RpcError(ChainError):
    """The node answered a JSON-RPC call with an error."""

    def __init__(self, method: str, code: int, message: str, data: Any = None) -> None:
        self.method = method
        self.code = code
        self.data = data
        super().__init__(f"{method} failed ({code}): {message}")


class ChainUncertainError(ChainError):
    """The chain cannot give a reliable answer right now (block reorganised away, node behind...).
    Callers fail closed: nothing is released on an uncertain answer."""


class DeploymentError(ChainError):
    """No usable deployment of the contract on this chain."""


class ContractRevertError(ChainError):
    """The contract reverted; `name` and `args` carry its custom error when it is one of ours."""

    def __init__(self, name: str, args: dict[str, Any], raw: str = "") -> None:
        self.name = name
        self.args_by_name = args
        self.raw = raw
        detail = ", ".join(f"{k}={v}" for k, v in args.items())
        super().__init__(f"the contract refused: {name}({detail})")


class TransactionFailedError(ChainError):
    """A transaction was mined but failed, or never got a receipt."""


class KeystoreError(ServerError):
    """A keystore file could not be read, decrypted or written."""


class InputError(ClientError):
    """A caller gave a value we cannot accept (bad address, unknown bit, bad time...)."""


class ConflictError(ClientError):
    """The request contradicts what is already recorded (e.g. another message holds that nonce)."""


class UnavailableError(ServerError):
    """A dependency (database, chain) failed; nothing was done and the caller may retry."""


class NotFoundError(ClientError):
    """The caller asked for something that does not exist (a submission, a leaf, an anchor, a customer's data)."""


class GoneError(ClientError):
    """The thing asked for existed and was deleted for good (for example a customer's erased data)."""


class PayloadTooLargeError(ClientError):
    """The request body is larger than the server accepts."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the request body is larger than {limit} bytes: send less per request")


class RateLimitedError(ClientError):
    """The caller sent more requests than its limit allows; `retry_after` is in whole seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)
