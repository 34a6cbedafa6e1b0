"""What the brand client raises, inside the package's one hierarchy (consent_ledger/errors.py).

A webhook that fails verification is the sender's fault (refuse it); a request the server refused
with a 4xx is the caller's to fix; a 5xx, a reply that is not what the API documents, or a server that
does not answer is a fault on the server's side or between, and may be retried.
"""

from __future__ import annotations

from consent_ledger.apimodels.base import Problem
from consent_ledger.errors import ClientError, InputError, UnavailableError


class WebhookRejectedError(InputError):
    """A webhook failed verification: a missing or malformed header, a timestamp outside the tolerance
    (a replay, or a clock far off), or no signature made with the secret or key this receiver trusts.
    Answer it with a 4xx and do not act on it."""


class RequestRefusedError(ClientError):
    """The server refused the request (4xx); `problem` is its problem+json document."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.status = problem.status
        super().__init__(f"{problem.status} {problem.title}: {problem.detail}")


class ServiceFailedError(UnavailableError):
    """The server failed (5xx), answered something the API does not document, or did not answer;
    `problem` is its problem document when it sent one. Retrying later may succeed."""

    def __init__(self, message: str, problem: Problem | None = None) -> None:
        self.problem = problem
        self.status = None if problem is None else problem.status
        super().__init__(message)
