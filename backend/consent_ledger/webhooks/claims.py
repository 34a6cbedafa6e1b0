"""One delivery attempt's types: the claim a worker holds, what the attempt got, and the two together once
it ended (what `WebhookOutbox.finish_many` records), and the acknowledgements a receiver may answer with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ACKS = ("stopped_processing", "deleted", "received")


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this worker holds until `lease_until`: what to send, where, and which attempt it is."""

    delivery_id: int
    token: str
    endpoint_id: str
    event_id: str
    event_type: str
    body: bytes
    url: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: a status code (None when no answer came), the time, an error, an ack."""

    status: int | None
    latency_ms: int
    error: str | None = None
    ack: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class Finished:
    """An attempt made under `claim`: what it got, and when it ended."""

    claim: Claim
    outcome: Outcome
    at: datetime
