"""Permission-check throughput on a throwaway anvil: our hand-encoded batch view against web3.py.

Three ways to answer the same questions at one block: web3.py's `isAllowed(...).call()` one by one
(the naive loop), web3.py's `areAllowed(...).call()` (ABI encoding by eth_abi), and
`Ledger.are_allowed` (hand-built calldata over a keep-alive connection). Figures are ratios to the
naive loop measured in the same run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from eth_account import Account
from web3 import Web3

from consent_ledger.bench.chain import throwaway_chain
from consent_ledger.bench.gas import CATEGORIES, ONE_PURPOSE, SignedGrants
from consent_ledger.config import ANVIL_DEFAULT_KEY, Settings
from consent_ledger.domain import Query

BATCH = 50


def _rate(count: int, action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return count / (time.perf_counter() - start)


def views_report(
    settings: Settings,
    customers: int = 1_000,
    questions: int = 5_000,
    naive: int = 300,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, object]:
    with throwaway_chain(settings, "consent-views-") as chain:
        rpc, ledger, artifact = chain.rpc, chain.ledger, chain.artifact
        run = SignedGrants(ledger, ANVIL_DEFAULT_KEY)
        accounts = [Account.create() for _ in range(customers)]
        for start in range(0, customers, BATCH):
            progress(f"granting {start + BATCH}/{customers}")
            ledger.grant_batch(run.relayer, [run.signed_grant(a) for a in accounts[start : start + BATCH]])
        rng = random.Random(1)  # noqa: S311 -- reproducible questions, not cryptography
        pool = [a.address for a in accounts] + [Account.create().address for _ in range(customers // 4)]
        queries = [
            Query(rng.choice(pool), run.brand, rng.choice([CATEGORIES, 1, 1 << 40]), ONE_PURPOSE[0].bit)
            for _ in range(questions)
        ]
        block = rpc.block_number()
        w3 = Web3(Web3.HTTPProvider(chain.url))
        contract = w3.eth.contract(address=ledger.address, abi=artifact.abi)

        progress(f"naive web3.py loop over {naive} questions")
        naive_rate = _rate(
            naive,
            lambda: [
                contract.functions.isAllowed(q.customer, q.brand, q.categories, q.purposes).call(block_identifier=block)
                for q in queries[:naive]
            ],
        )
        tuples = [(q.customer, q.brand, q.categories, q.purposes) for q in queries]
        progress(f"web3.py batch view, {questions} questions")
        web3_rate = _rate(
            questions,
            lambda: contract.functions.areAllowed(tuples).call(block_identifier=block, transaction={"gas": 10**9}),
        )
        progress(f"hand-encoded batch view, {questions} questions")
        ours = ledger.are_allowed(queries, block)  # warm-up and agreement check
        ours_rate = _rate(questions, lambda: ledger.are_allowed(queries, block))
        agree = ours == contract.functions.areAllowed(tuples).call(block_identifier=block, transaction={"gas": 10**9})
    return {
        "customers": customers,
        "questions": questions,
        "naive_checks_per_s": round(naive_rate),
        "web3_batch_checks_per_s": round(web3_rate),
        "batch_checks_per_s": round(ours_rate),
        "ratio_vs_naive": round(ours_rate / naive_rate, 1),
        "ratio_vs_web3_batch": round(ours_rate / web3_rate, 1),
        "answers_agree": agree,
    }
