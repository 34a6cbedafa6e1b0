"""The RPC client's circuit breaker, on a hand-driven clock."""

from __future__ import annotations

from consent_ledger.chain.rpc import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_closed_until_a_failure_then_open_for_the_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(cooldown=2.0, clock=clock)
    assert breaker.state == "closed"
    assert breaker.allow() is None
    breaker.failed("timed out after 1.5s")
    assert breaker.state == "open"
    refusal = breaker.allow()
    assert refusal is not None
    assert "timed out after 1.5s" in refusal
    assert "2.0s" in refusal
    clock.now += 1.9
    assert breaker.allow() is not None


def test_after_the_cooldown_exactly_one_probe_goes_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(cooldown=1.0, clock=clock)
    breaker.failed("down")
    clock.now += 1.0
    assert breaker.allow() is None  # the probe
    assert breaker.state == "probing"
    assert breaker.allow() is not None  # everyone else still fails fast
    breaker.succeeded()
    assert breaker.state == "closed"
    assert breaker.allow() is None


def test_a_failed_probe_opens_the_circuit_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker(cooldown=1.0, clock=clock)
    breaker.failed("down")
    clock.now += 1.5
    assert breaker.allow() is None
    breaker.failed("still down")
    assert breaker.state == "open"
    refusal = breaker.allow()
    assert refusal is not None
    assert "still down" in refusal
    clock.now += 1.0
    assert breaker.allow() is None


def test_zero_cooldown_never_refuses() -> None:
    breaker = CircuitBreaker(cooldown=0, clock=Clock())
    breaker.failed("down")
    assert breaker.allow() is None
