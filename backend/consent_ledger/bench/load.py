"""Mixed load against `serve` replicas on PostgreSQL: two replicas, then one, same load, same chain.

Several client processes (`clients`) share the replicas round-robin and, for `seconds`, each runs a
weighted mix of operations over keep-alive HTTP, timing each one:

- check: POST /v1/permissions/check with 20 questions about seeded customers;
- release: POST /v1/releases of 5 seeded customers (2 categories; a receipt and a log leaf per record);
- grant: a new customer's typed data fetched, signed with its key, and submitted (202).

Every answer that is not a success is an error (the figure must be 0). Each replica's resident memory is
read from /proc before and after the load. The result is one JSON object; nothing is asserted on time.
Each set-up gets its own throwaway PostgreSQL database; the chain (a throwaway anvil) is shared.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from eth_account import Account
from eth_account.signers.local import LocalAccount
from psycopg import sql
from sqlalchemy.engine import make_url

from consent_ledger.bench.chain import BenchChain, throwaway_chain
from consent_ledger.bench.load_clients import CATEGORIES, OPS, PURPOSE, WEIGHTS, run_clients
from consent_ledger.bench.replicas import replicas
from consent_ledger.chain import eip712
from consent_ledger.composition import build_context, open_storage
from consent_ledger.config import ANVIL_RELAYER_KEY, Settings
from consent_ledger.domain import GrantRequest, uniform_terms

Progress = Callable[[str], None]
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def load_report(
    settings: Settings,
    seconds: float = 120.0,
    clients: int = 4,
    customers: int = 200,
    pg_admin_url: str = DEFAULT_PG_ADMIN_URL,
    progress: Progress = lambda _: None,
) -> dict[str, Any]:
    with throwaway_chain(settings, "consent-load-bench-") as chain:
        brand: LocalAccount = Account.create()
        seeded: list[LocalAccount] = [Account.create() for _ in range(customers)]
        progress(f"granting {customers} customers on-chain")
        _grant_on_chain(chain, settings, brand.address, seeded)
        setups: dict[str, Any] = {}
        for name, count in (("two_replicas", 2), ("one_replica", 1)):
            with throwaway_database(pg_admin_url) as database:
                bench = _settings(settings, chain, database)
                progress(f"{name}: migrating and filling a fresh PostgreSQL database")
                _fill(bench, brand.address, seeded)
                with replicas(bench, count, chain.root / name) as running:
                    progress(f"{name}: {clients} clients for {seconds:g} s against {count} replica(s)")
                    setups[name] = run_clients(running, brand, seeded, seconds, clients)
    one, two = setups["one_replica"], setups["two_replicas"]
    ratio = {
        op: {
            "per_s": _ratio(two["ops"][op]["per_s"], one["ops"][op]["per_s"]),
            "p99_ms": _ratio(two["ops"][op]["p99_ms"], one["ops"][op]["p99_ms"]),
        }
        for op in OPS
    }
    ratio["all"] = {"per_s": _ratio(two["per_s"], one["per_s"])}
    return {
        "seconds": seconds,
        "clients": clients,
        "customers": customers,
        "mix": dict(zip(OPS, WEIGHTS, strict=True)),
        "errors": one["errors"] + two["errors"],
        "setups": setups,
        "ratio_two_to_one": ratio,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else round(a / b, 2)


def _settings(settings: Settings, chain: BenchChain, database: str) -> Settings:
    return settings.model_copy(
        update={
            "env": "development",
            "rpc_url": chain.url,
            "deployments_dir": chain.deployments_dir,
            "database_url": database,
            "var_dir": chain.root / "var",
            "relayer_key": None,
            "anchor_every_seconds": 5.0,
        }
    )


def _grant_on_chain(chain: BenchChain, settings: Settings, brand: str, customers: list[LocalAccount]) -> None:
    from consent_ledger.catalog import default_catalog  # noqa: PLC0415 -- only the set-up needs it

    catalog = default_catalog()
    now = int(chain.rpc.get_block("latest")["timestamp"], 16)
    domain = chain.ledger.domain()
    relayer = chain.ledger.sender(ANVIL_RELAYER_KEY)
    items = []
    for customer in customers:
        request = GrantRequest(
            customer.address,
            brand,
            uniform_terms(catalog.category_mask(CATEGORIES), catalog.purpose_mask([PURPOSE])),
            now + 90 * 86_400,
            catalog.notice.hash_bytes,
            0,
            now + 3_600,
        )
        items.append((request, eip712.sign_digest(customer.key, eip712.grant_digest(domain, request))))
    for first in range(0, len(items), 200):
        chain.ledger.grant_batch(relayer, items[first : first + 200])


def _fill(settings: Settings, brand: str, customers: list[LocalAccount]) -> None:
    open_storage(settings, migrate=True).close()
    context = build_context(settings)
    try:
        context.brands.add(brand, "Load Bench Brand")
        for n, customer in enumerate(customers):
            context.vault.put_fields(
                customer.address,
                {"email": ("contact.email", f"customer{n}@example.org"), "interests": ("interests", "hiking")},
            )
    finally:
        context.close()


@contextmanager
def throwaway_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database made with `admin_url` (a user who may CREATE DATABASE), dropped afterwards."""
    name = f"cl_bench_{uuid.uuid4().hex}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
