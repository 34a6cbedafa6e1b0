"""The `consent-ledger` console script, driven in-process against a real anvil.

Each test gets its own anvil and its own deployments folder, so none depends on another's state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from consent_ledger.catalog import default_catalog
from consent_ledger.chain.devnet import Devnet, free_port
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.cli.main import main
from consent_ledger.config import ANVIL_DEFAULT_KEY

pytestmark = pytest.mark.chain

PASSWORD = "correct horse battery"
CATEGORIES = ["contact.email", "interests"]
PURPOSE = "marketing.email"
OTHER_CATEGORY = "contact.phone"
OTHER_PURPOSE = "marketing.sms"


@dataclass
class Run:
    code: int
    out: str
    err: str


@dataclass
class Cli:
    devnet: Devnet
    tmp: Path
    capsys: pytest.CaptureFixture[str]

    @property
    def deployments(self) -> Path:
        return self.tmp / "deployments"

    def __call__(self, *argv: str) -> Run:
        self.capsys.readouterr()  # drop anything printed before
        code = main(list(argv))
        captured = self.capsys.readouterr()
        return Run(code, captured.out, captured.err)

    def ok(self, *argv: str) -> Run:
        run = self(*argv)
        assert run.code == 0, f"{argv} exited {run.code}: {run.err}"
        return run

    def rpc(self) -> RpcClient:
        return RpcClient(self.devnet.url)


@pytest.fixture
def cli(
    tmp_path: Path, project_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    devnet = Devnet(project_root, tmp_path / "anvil", free_port(), persist=False)
    devnet.start()
    for name in ("CONSENT_PROJECT_ROOT", "CONSENT_BUILD_DIR", "CONSENT_DEPLOYER_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONSENT_RPC_URL", devnet.url)
    monkeypatch.setenv("CONSENT_DEPLOYMENTS_DIR", str(tmp_path / "deployments"))
    monkeypatch.setenv("CONSENT_VAR_DIR", str(tmp_path / "var"))
    try:
        yield Cli(devnet, tmp_path, capsys)
    finally:
        devnet.stop()


@dataclass
class Customer:
    keystore: Path
    password_file: Path
    address: str

    @property
    def key_flags(self) -> list[str]:
        return ["--keystore", str(self.keystore), "--password-file", str(self.password_file)]


@pytest.fixture
def keystore(cli: Cli) -> Customer:
    """A customer keystore made through the CLI (nothing deployed, no funds)."""
    keystore = cli.tmp / "customer.json"
    password_file = cli.tmp / "password.txt"
    password_file.write_text(PASSWORD + "\n")
    run = cli.ok("account", "new", "--keystore", str(keystore), "--password-file", str(password_file))
    address = run.out.strip()
    assert Account.from_key(Account.decrypt(json.loads(keystore.read_text()), PASSWORD)).address == address
    return Customer(keystore, password_file, address)


@pytest.fixture
def customer(cli: Cli, keystore: Customer) -> Customer:
    """A deployed ledger and a funded customer, made through the CLI."""
    cli.ok("deploy")
    cli.ok("account", "fund", keystore.address)
    return keystore


def _brand() -> str:
    return str(Account.create().address)


def _show(cli: Cli, customer: Customer) -> list[dict[str, Any]]:
    run = cli.ok("show", "--customer", customer.address, "--json")
    report = json.loads(run.out)
    assert report["customer"] == customer.address
    rows: list[dict[str, Any]] = report["grants"]
    return rows


def test_deploy_then_reuse(cli: Cli) -> None:
    first = cli("deploy")
    assert first.code == 0, first.err
    record = json.loads(first.out)
    assert record["chain_id"] == 31337
    assert record["address"].startswith("0x")
    assert "deployed ConsentLedger" in first.err
    assert record["genesis_hash"] == cli.rpc().get_block(0)["hash"]
    assert json.loads((cli.deployments / f"31337-{record['genesis_hash'][2:10]}.json").read_text()) == record
    rpc = cli.rpc()
    assert rpc.get_code(record["address"]) not in ("0x", "")

    second = cli("deploy")
    assert second.code == 0, second.err
    assert "reusing" in second.err
    assert json.loads(second.out)["address"] == record["address"]

    status = cli.ok("status")
    assert f"{record['address']}: live" in status.err


def test_account_new_show_and_fund(cli: Cli) -> None:
    keystore = cli.tmp / "k.json"
    password_file = cli.tmp / "p.txt"
    password_file.write_text(PASSWORD)
    address = cli.ok("account", "new", "--keystore", str(keystore), "--password-file", str(password_file)).out.strip()
    assert address.startswith("0x")
    assert len(address) == 42
    assert cli.ok("account", "show", "--keystore", str(keystore)).out.strip() == address

    cli.ok("account", "fund", address, "--eth", "2.5")
    assert int(cli.rpc().request("eth_getBalance", [address, "latest"]), 16) == 25 * 10**17

    again = cli("account", "new", "--keystore", str(keystore), "--password-file", str(password_file))
    assert again.code == 1
    assert "error:" in again.err
    assert "refusing to overwrite" in again.err


def test_grant_check_show_revoke(cli: Cli, customer: Customer) -> None:
    brand = _brand()
    block = cli.rpc().block_number()
    past = cli("grant", *customer.key_flags, "--brand", brand, "--categories", CATEGORIES[0],
               "--purposes", PURPOSE, "--until", "2001-01-01")  # fmt: skip
    assert past.code == 1
    assert "error:" in past.err
    assert "ExpiryInPast" in past.err  # the contract's own error, decoded
    assert cli.rpc().block_number() == block  # refused before anything was sent

    granted = cli.ok(
        "grant",
        *customer.key_flags,
        "--brand",
        brand,
        "--categories",
        ",".join(CATEGORIES),
        "--purposes",
        PURPOSE,
        "--days",
        "30",
    )
    tx_hash = granted.out.strip()
    receipt = cli.rpc().request("eth_getTransactionReceipt", [tx_hash])
    assert int(receipt["status"], 16) == 1
    assert receipt["from"].lower() == customer.address.lower()  # sent from the customer's own key

    check = ["check", "--customer", customer.address, "--brand", brand]
    allowed = cli(*check, "--categories", CATEGORIES[0], "--purposes", PURPOSE)
    assert allowed.code == 0, allowed.err
    assert allowed.out.startswith("allowed")
    both = cli(*check, "--categories", ",".join(CATEGORIES), "--purposes", PURPOSE)
    assert both.code == 0
    assert both.out.startswith("allowed")

    other_category = cli(*check, "--categories", OTHER_CATEGORY, "--purposes", PURPOSE)
    assert other_category.code == 3
    assert other_category.out.startswith("denied")
    other_purpose = cli(*check, "--categories", CATEGORIES[0], "--purposes", OTHER_PURPOSE)
    assert other_purpose.code == 3
    assert other_purpose.out.startswith("denied")
    other_brand = cli("check", "--customer", customer.address, "--brand", _brand(), "--categories",
                      CATEGORIES[0], "--purposes", PURPOSE)  # fmt: skip
    assert other_brand.code == 3

    (row,) = _show(cli, customer)
    assert row["brand"] == brand
    assert row["active"] is True
    assert sorted(row["categories"]) == sorted(CATEGORIES)
    assert row["purposes"] == [PURPOSE]
    expires_at = int(row["expires_at"])
    now = int(cli.rpc().get_block("latest")["timestamp"], 16)
    assert 29 * 86_400 < expires_at - now <= 30 * 86_400 + 60

    text = cli.ok("show", "--customer", customer.address)
    assert "ACTIVE" in text.out
    assert brand in text.out
    assert CATEGORIES[0] in text.out

    revoked = cli("revoke", *customer.key_flags, "--brand", brand)
    assert revoked.code == 0, revoked.err
    assert revoked.out.strip().startswith("0x")

    after = cli(*check, "--categories", CATEGORIES[0], "--purposes", PURPOSE)
    assert after.code == 3
    assert after.out.startswith("denied")
    (row,) = _show(cli, customer)
    assert row["brand"] == brand
    assert row["active"] is False
    assert row["categories"] == []


def test_grant_per_purpose_with_allow(cli: Cli, customer: Customer) -> None:
    brand = _brand()
    cli.ok(
        "grant", *customer.key_flags, "--brand", brand,
        "--allow", "marketing.email=contact.email,interests",
        "--allow", "tcf.measure_ad_performance=purchase_history",
        "--days", "30",
    )  # fmt: skip
    check = ["check", "--customer", customer.address, "--brand", brand]
    assert cli(*check, "--categories", "contact.email,interests", "--purposes", "marketing.email").code == 0
    assert cli(*check, "--categories", "purchase_history", "--purposes", "tcf.measure_ad_performance").code == 0
    # each purpose only with its own data
    assert cli(*check, "--categories", "purchase_history", "--purposes", "marketing.email").code == 3
    assert cli(*check, "--categories", "contact.email", "--purposes", "tcf.measure_ad_performance").code == 3
    (row,) = _show(cli, customer)
    assert row["terms"] == [
        {"purpose": "tcf.measure_ad_performance", "categories": ["purchase_history"]},
        {"purpose": "marketing.email", "categories": ["contact.email", "interests"]},
    ]
    text = cli.ok("show", "--customer", customer.address).out
    assert "for marketing.email: contact.email, interests" in text
    bad = cli("grant", *customer.key_flags, "--brand", brand, "--allow", "marketing.email")
    assert bad.code != 0
    assert "PURPOSE=CATEGORY" in bad.err
    mixed = cli("grant", *customer.key_flags, "--brand", brand, "--allow", "marketing.email=contact.email",
                "--categories", "contact.email", "--purposes", "marketing.email")  # fmt: skip
    assert mixed.code != 0


def test_show_filters_by_brand_and_lists_every_brand(cli: Cli, customer: Customer) -> None:
    brands = [_brand(), _brand()]
    for brand in brands:
        cli.ok("grant", *customer.key_flags, "--brand", brand, "--categories", CATEGORIES[0],
               "--purposes", PURPOSE, "--days", "1")  # fmt: skip
    assert sorted(str(row["brand"]) for row in _show(cli, customer)) == sorted(brands)
    only = json.loads(cli.ok("show", "--customer", customer.address, "--brand", brands[1], "--json").out)
    assert [row["brand"] for row in only["grants"]] == [brands[1]]
    nobody = json.loads(cli.ok("show", "--customer", _brand(), "--json").out)
    assert nobody["grants"] == []


def test_wrong_password(cli: Cli, keystore: Customer) -> None:
    customer = keystore
    cli.ok("deploy")
    wrong = cli.tmp / "wrong.txt"
    wrong.write_text("not the password")
    brand = _brand()
    run = cli("grant", "--keystore", str(customer.keystore), "--password-file", str(wrong), "--brand", brand,
              "--categories", CATEGORIES[0], "--purposes", PURPOSE)  # fmt: skip
    assert run.code == 1
    assert run.err.startswith("error:")
    assert "password" in run.err
    assert run.out == ""
    revoke = cli("revoke", "--keystore", str(customer.keystore), "--password-file", str(wrong), "--brand", brand)
    assert revoke.code == 1
    assert "error:" in revoke.err


def test_unknown_names_and_bad_input(cli: Cli) -> None:
    """Input is checked against the catalog before any key is opened or the chain is asked."""
    brand, customer = _brand(), _brand()
    key_flags = ["--keystore", str(cli.tmp / "absent.json"), "--password-file", str(cli.tmp / "absent.txt")]
    run = cli("grant", *key_flags, "--brand", brand, "--categories", "contact.emial",
              "--purposes", PURPOSE)  # fmt: skip
    assert run.code == 1
    assert run.err.startswith("error:")
    assert "contact.emial" in run.err
    assert "contact.email" in run.err  # the close match is suggested
    days = cli("grant", *key_flags, "--brand", brand, "--categories", CATEGORIES[0], "--purposes", PURPOSE,
               "--days", "0")  # fmt: skip
    assert days.code == 1
    assert "--days" in days.err
    until = cli("grant", *key_flags, "--brand", brand, "--categories", CATEGORIES[0], "--purposes", PURPOSE,
                "--until", "next tuesday")  # fmt: skip
    assert until.code == 1
    assert "ISO 8601" in until.err
    check = cli("check", "--customer", customer, "--brand", brand, "--categories", "no.such.thing",
                "--purposes", PURPOSE)  # fmt: skip
    assert check.code == 1
    assert "no.such.thing" in check.err
    purpose = cli("check", "--customer", customer, "--brand", brand, "--categories", CATEGORIES[0],
                  "--purposes", "marketing.pigeon")  # fmt: skip
    assert purpose.code == 1
    assert "marketing.pigeon" in purpose.err


def test_bad_address_is_a_usage_error(cli: Cli) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["check", "--customer", "0x1234", "--brand", _brand(), "--categories", CATEGORIES[0],
              "--purposes", PURPOSE])  # fmt: skip
    assert caught.value.code == 2
    assert "not an Ethereum address" in cli.capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["account", "fund", "nope"])
    assert caught.value.code == 2


def test_before_deploy_says_what_to_do(cli: Cli) -> None:
    run = cli("check", "--customer", _brand(), "--brand", _brand(), "--categories", CATEGORIES[0],
              "--purposes", PURPOSE)  # fmt: skip
    assert run.code == 1
    assert "error:" in run.err
    assert "consent-ledger deploy" in run.err


def test_reset_devnet_is_detected(cli: Cli) -> None:
    cli.ok("deploy")
    cli.devnet.stop()
    cli.devnet.start()  # same port and chain id, empty chain
    run = cli("show", "--customer", _brand(), "--json")
    assert run.code == 1
    assert "consent-ledger deploy" in run.err
    assert "reusing" not in cli("deploy").err
    cli.ok("show", "--customer", _brand(), "--json")


def test_bench_gas_json(cli: Cli) -> None:
    run = cli("bench", "gas", "--json")
    assert run.code == 0, run.err
    report = json.loads(run.out)
    figures = [
        "grant_direct",
        "grant_signed_new",
        "grant_signed_update",
        "grant_batch10_per_grant",
        "grant_batch50_per_grant",
        "revoke_direct",
        "revoke_signed",
        "anchor",
        "grant_signed_new_3_purposes",
        "grant_batch50_per_grant_3_purposes",
    ]
    for name in figures:
        value = report[name]
        assert isinstance(value, int)
        assert not isinstance(value, bool)
        assert value > 0, name
    # The targets are reported as they are, met or not.
    assert report["targets"] == {"grant_signed_new": 56_000, "grant_batch50_per_grant": 36_000, "revoke_signed": 36_000}
    assert report["meets_targets"] is all(report[k] <= v for k, v in report["targets"].items())
    # Gas is deterministic: the targets are met, and stay met.
    assert report["meets_targets"] is True
    assert report["grant_signed_new"] <= 56_000
    assert report["grant_batch50_per_grant"] <= 36_000
    assert report["revoke_signed"] <= 36_000
    # Each further purpose adds one storage write (22,100 for a fresh slot) and its share of calldata,
    # event data and hashing, never more.
    for single, triple in (
        ("grant_signed_new", "grant_signed_new_3_purposes"),
        ("grant_batch50_per_grant", "grant_batch50_per_grant_3_purposes"),
    ):
        assert (report[triple] - report[single]) / 2 <= 22_100 + 3_000
    # Batching must pay: per grant, a batch of 50 is cheaper than one signed grant.
    assert report["grant_batch50_per_grant"] < report["grant_signed_new"]
    assert report["grant_signed_update"] < report["grant_signed_new"]


def test_catalog_names_used_here_exist() -> None:
    """Guard for this file: the names it grants are real catalog entries."""
    catalog = default_catalog()
    mask = catalog.parse_categories(",".join(CATEGORIES))
    assert sorted(catalog.category_names(mask)) == sorted(CATEGORIES)
    assert catalog.purpose_names(catalog.parse_purposes(PURPOSE)) == [PURPOSE]


def test_node_down_is_an_error_not_a_traceback(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_RPC_URL", f"http://127.0.0.1:{free_port()}")
    run = cli("check", "--customer", _brand(), "--brand", _brand(), "--categories", CATEGORIES[0],
              "--purposes", PURPOSE)  # fmt: skip
    assert run.code == 1
    assert run.err.startswith("error:")
    assert "no answer" in run.err


def test_other_chains_need_an_explicit_deployer(cli: Cli, project_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = Devnet(project_root, cli.tmp / "anvil-31338", free_port(), persist=False, chain_id=31338)
    other.start()
    try:
        monkeypatch.setenv("CONSENT_RPC_URL", other.url)
        refused = cli("deploy")
        assert refused.code == 1
        assert "CONSENT_DEPLOYER_KEY" in refused.err
        assert not list(cli.deployments.glob("31338-*.json"))
        fund = cli("account", "fund", _brand())
        assert fund.code == 1
        assert "devnet" in fund.err

        monkeypatch.setenv("CONSENT_DEPLOYER_KEY", ANVIL_DEFAULT_KEY)
        deployed = cli.ok("deploy")
        assert json.loads(deployed.out)["chain_id"] == 31338
        assert len(list(cli.deployments.glob("31338-*.json"))) == 1
        assert not list(cli.deployments.glob("31337-*.json"))
    finally:
        other.stop()


def test_bench_insights_json_shape(cli: Cli) -> None:
    """Shape only (no timing): the figures are named by the sizes asked for; each size's exact query counted
    exactly its consenting customers and none of the others that hold the same data; the stewardship report
    ran over a seeded history."""
    run = cli("bench", "insights", "--json", "--customers", "30,60", "--history-days", "2", "--history-customers", "8")
    assert run.code == 0, run.err
    report = json.loads(run.out)
    for size in (30, 60):
        label = str(size)
        assert isinstance(report[f"query_ms_{label}"], int)
        assert len(report[f"query_ms_{label}_runs"]) == 3
        assert report[f"seed_s_{label}"] >= 0
        assert report[f"counted_{label}"] == size
        assert report[f"not_consenting_{label}"] == size // 50
    assert report["seed_s"] >= 0
    assert report["target_ms_100k"] == 1_000
    assert report["report_s"] > 0
    assert set(report["report_s_by_brand"]) == {"acme", "lumen", "orbit"}
    assert report["report_history_days"] == 2
