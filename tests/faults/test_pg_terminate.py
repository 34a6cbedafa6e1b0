"""PostgreSQL backends terminated again and again (`pg_terminate_backend` on this test database's
connections only) while clients release data and submit grants to a running `serve`: the API answers
only successes and 503s, every release it answered has its receipt and log leaf, every submission it
accepted is kept and confirmed, and it recovers without a restart."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from eth_account import Account
from fault_support import Cluster, grant, rows, sign_in, wait_for
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.chain

TERMINATE = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"


class Terminator:
    """Terminates every backend of one database every `interval` seconds, on its own thread."""

    def __init__(self, url: str, seconds: float, interval: float = 0.05) -> None:
        self.url = url
        self.until = time.monotonic() + seconds
        self.database = make_url(url).database
        self.interval = interval
        self.terminated = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as admin:
            while not self._stop.wait(self.interval) and time.monotonic() < self.until:
                self.terminated += sum(1 for (done,) in admin.execute(TERMINATE, [self.database]) if done)

    def __enter__(self) -> Terminator:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _confirmed(world, submission: int) -> bool:
    return rows(world.engine, "SELECT status FROM outbox WHERE id = :i", i=submission)[0][0] == "confirmed"


def test_terminated_backends_give_only_503s_and_lose_nothing(world, cluster: Cluster) -> None:
    replica = cluster.start("stormed")
    cluster.wait_ready([replica])
    base = replica.url
    setup = httpx.Client(timeout=60)
    brand = world.brand
    brand_auth = sign_in(setup, base, brand)
    customers = []
    for _ in range(4):
        customer = Account.create()
        submission = grant(setup, base, customer, brand.address)["id"]
        wait_for("a grant to be confirmed", lambda s=submission: _confirmed(world, s), 60, detail=cluster.logs)
        customers.append(customer)
    # Customers who will submit grants during the storm, signed in before it.
    submitters = [(c, sign_in(setup, base, c)) for c in (Account.create() for _ in range(12))]
    release = {
        "customers": [c.address for c in customers],
        "categories": ["contact.email"],
        "purpose": "marketing.email",
    }

    statuses: list[int] = []
    receipts: list[str] = []
    accepted: list[int] = []

    def releases(until: float) -> None:
        client = httpx.Client(base_url=base, timeout=60)
        while time.monotonic() < until:
            reply = client.post("/v1/releases", json=release, headers=brand_auth)
            statuses.append(reply.status_code)
            if reply.status_code == 200:
                receipts.extend(r["receipt_id"] for r in reply.json()["released"])

    def submissions(pending: list) -> None:
        """As a wallet would: typed data fetched until it comes, signed once, that message sent until it is
        accepted (a resend of an accepted message is answered 200 with the same submission)."""
        client = httpx.Client(base_url=base, timeout=60)
        deadline = time.monotonic() + 90
        for customer, auth in pending:
            body = None
            while body is None and time.monotonic() < deadline:
                typed = client.post(
                    "/v1/me/typed-data/grant",
                    json={"brand": brand.address, "categories": ["contact.email"], "purposes": ["marketing.email"]},
                    headers=auth,
                )
                statuses.append(typed.status_code)
                if typed.status_code == 200:
                    signature = Account.sign_typed_data(customer.key, full_message=typed.json()).signature.hex()
                    body = {"kind": "grant", "message": typed.json()["message"], "signature": "0x" + signature}
            while body is not None and time.monotonic() < deadline:
                reply = client.post("/v1/me/submissions", json=body, headers=auth)
                statuses.append(reply.status_code)
                if reply.status_code in (200, 202):
                    accepted.append(int(reply.json()["id"]))
                    break
                time.sleep(0.1)

    with Terminator(world.database_url, seconds=8) as terminator, ThreadPoolExecutor(4) as pool:
        until = terminator.until
        jobs = [pool.submit(releases, until), pool.submit(releases, until)]
        jobs += [pool.submit(submissions, submitters[:6]), pool.submit(submissions, submitters[6:])]
        for job in jobs:
            job.result(timeout=300)
    assert terminator.terminated > 10, "the storm never hit a backend"
    assert set(statuses) <= {200, 202, 503}, sorted(set(statuses))
    assert 503 in statuses  # the storm was felt...
    assert statuses.count(200) > 0  # ...and requests still got through between terminations

    # Recovery without a restart: the same process answers normally again.
    wait_for(
        "releases to work again",
        lambda: setup.post(f"{base}/v1/releases", json=release, headers=brand_auth).status_code == 200,
        30,
        poll=0.5,
        detail=cluster.logs,
    )

    # No release without its receipt and its leaf.
    stored = {
        str(receipt)
        for (receipt,) in rows(
            world.engine,
            "SELECT r.id FROM release_receipts r JOIN log_leaves l ON l.receipt_id = r.id",
        )
    }
    assert set(receipts) <= stored
    ((size, leaves),) = rows(world.engine, "SELECT (SELECT size FROM log_head), (SELECT COUNT(*) FROM log_leaves)")
    assert size == leaves  # one dense log
    # Nothing accepted is lost: every accepted submission is confirmed.
    assert len(accepted) == len(submitters)
    for submission in accepted:
        wait_for(
            "an accepted grant to be confirmed", lambda s=submission: _confirmed(world, s), 120, detail=cluster.logs
        )
