"""Public stewardship (issue 12 item 2 and 3): the figures the server publishes for each brand, and the report
command that recomputes them from the chain and an exported log only, on a seeded history; a tampered log is
caught; bad input is a 4xx."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from consent_ledger.api.app import create_app
from consent_ledger.cli.main import main
from consent_ledger.stewardship.tables import to_csv
from stewardship_support import History, seeded_history

pytestmark = pytest.mark.chain


@pytest.fixture(scope="module")
def history(artifacts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    with seeded_history(tmp_path_factory.mktemp("history"), artifacts) as world:
        yield world


@pytest.fixture(scope="module")
def client(history: History) -> Iterator[TestClient]:
    with TestClient(create_app(history.settings, run_relayer=False)) as served:
        yield served


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main(["stewardship", "report", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_the_history_has_something_of_each_kind(history: History) -> None:
    made = history.report
    assert made.days >= 6
    assert made.grants > 0
    assert made.narrowed > 0
    assert made.revoked > 0
    assert made.releases > 0
    assert made.questions > 0


def test_the_page_figures_describe_the_seeded_history(client: TestClient, history: History) -> None:
    reply = client.get(f"/v1/stewardship/{history.brands['acme']}")
    assert reply.status_code == 200, reply.text
    figures = reply.json()
    assert figures["grants"]["given"] > 0
    assert figures["grants"]["revoked"] > 0
    assert figures["releases"]["total"] > 0
    assert figures["releases"]["by_purpose"][0]["name"] == "marketing.email"
    assert figures["insights"]["queries"] > 0
    assert figures["log"]["verifies"] is True
    assert figures["log"]["last_anchor"] is not None
    assert len(figures["daily"]) >= history.report.days
    assert figures["propagation"]["revocations"] == figures["grants"]["revoked"]
    assert "customer" not in json.dumps(figures)  # counts, never customers


def test_revocations_were_passed_on(client: TestClient, history: History) -> None:
    """The seeded brands heard of their revocations (version-3 leaves) and acknowledged most of them."""
    told = [client.get(f"/v1/stewardship/{brand}").json()["propagation"] for brand in history.brands.values()]
    assert sum(p["revocations"] for p in told) == history.report.revoked
    assert sum(p["delivered"] for p in told) == history.report.revoked
    acknowledged = [p for p in told if p["acknowledged"]]
    assert acknowledged
    for figures in acknowledged:
        assert 0 < figures["share_acknowledged"] <= 1
        assert 0 < figures["median_seconds"] <= figures["worst_seconds"] <= 14_400


def test_the_csv_download_is_the_same_figures(client: TestClient, history: History) -> None:
    brand = history.brands["lumen"]
    figures = client.get(f"/v1/stewardship/{brand}").json()
    reply = client.get(f"/v1/stewardship/{brand}/figures.csv", params={"as_of": figures["as_of"]["block"]})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in reply.headers["content-disposition"]
    assert reply.text == to_csv(figures)
    assert next(csv.reader(io.StringIO(reply.text))) == ["section", "name", "metric", "value"]


def test_the_report_recomputes_the_page(
    client: TestClient, history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = history.export_log(client.app.state.context, tmp_path / "log.jsonl")
    for label, brand in history.brands.items():
        page = tmp_path / f"{label}.json"
        page.write_text(client.get(f"/v1/stewardship/{brand}").text)
        code, compared, err = report(
            capsys, "--brand", brand, "--rpc", history.chain.rpc.url, "--log", str(log), "--compare", str(page)
        )
        assert (code, compared["differences"], err) == (0, [], ""), label
        assert compared["matches"] is True
        code, alone, _ = report(
            capsys,
            "--brand",
            brand,
            "--rpc",
            history.chain.rpc.url,
            "--log",
            str(log),
            "--as-of",
            str(compared["as_of"]["block"]),
        )
        assert code == 0
        assert alone == json.loads(page.read_text())


def test_the_report_catches_a_tampered_log(
    client: TestClient, history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    brand = history.brands["acme"]
    log = history.export_log(client.app.state.context, tmp_path / "log.jsonl")
    page = tmp_path / "page.json"
    page.write_text(client.get(f"/v1/stewardship/{brand}").text)
    lines = log.read_text().splitlines()
    leaf = json.loads(lines[1])  # the first leaf: change its last byte
    leaf["leaf"] = leaf["leaf"][:-2] + ("00" if not leaf["leaf"].endswith("00") else "01")
    lines[1] = json.dumps(leaf)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines) + "\n")
    code, alone, err = report(capsys, "--brand", brand, "--rpc", history.chain.rpc.url, "--log", str(tampered))
    assert code == 1
    assert alone["log"]["verifies"] is False
    assert "LOG DOES NOT VERIFY" in err
    code, compared, err = report(
        capsys, "--brand", brand, "--rpc", history.chain.rpc.url, "--log", str(tampered), "--compare", str(page)
    )
    assert code == 1
    assert "log.verifies: page True, recomputed False" in compared["differences"]
    assert "DIFFERENT log.verifies" in err


def test_a_page_that_differs_is_listed(
    client: TestClient, history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    brand = history.brands["orbit"]
    log = history.export_log(client.app.state.context, tmp_path / "log.jsonl")
    figures = client.get(f"/v1/stewardship/{brand}").json()
    figures["grants"]["revoked"] += 1
    figures["releases"]["total"] = 0
    page = tmp_path / "page.json"
    page.write_text(json.dumps(figures))
    code, compared, _ = report(
        capsys, "--brand", brand, "--rpc", history.chain.rpc.url, "--log", str(log), "--compare", str(page)
    )
    assert code == 1
    assert set(compared["differences"]) >= {
        f"grants.revoked: page {figures['grants']['revoked']}, recomputed {figures['grants']['revoked'] - 1}",
        f"releases.total: page 0, recomputed {client.get(f'/v1/stewardship/{brand}').json()['releases']['total']}",
    }


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/stewardship/0x123", 400),
        ("/v1/stewardship/0x" + "g" * 40, 400),
        ("/v1/stewardship/0x" + "ab" * 20 + "?as_of=-1", 422),
        ("/v1/stewardship/0x" + "ab" * 20 + "?as_of=99999999", 400),
        ("/v1/stewardship/0x" + "ab" * 20 + "/figures.csv?as_of=x", 422),
    ],
)
def test_bad_input_is_a_4xx(client: TestClient, path: str, status: int) -> None:
    reply = client.get(path)
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")


def test_a_brand_without_history_has_zeros(client: TestClient) -> None:
    figures = client.get("/v1/stewardship/0x" + "ab" * 20).json()
    assert figures["grants"] == {"given": 0, "narrowed": 0, "revoked": 0, "active": 0}
    assert figures["releases"]["total"] == 0
    assert figures["daily"] == []
    assert figures["log"]["verifies"] is True


def test_compare_is_each_brands_own_figures_at_one_block(client: TestClient, history: History) -> None:
    brands = list(history.brands.values())
    reply = client.get("/v1/stewardship/compare", params={"brand": brands})
    assert reply.status_code == 200, reply.text
    compared = reply.json()
    block = compared["as_of"]["block"]
    assert [f["brand"] for f in compared["brands"]] == brands  # in the order asked
    for figures in compared["brands"]:
        assert figures["as_of"] == compared["as_of"]
        assert figures == client.get(f"/v1/stewardship/{figures['brand']}", params={"as_of": block}).json()
    assert compared["chain"] == compared["brands"][0]["chain"]
    assert len({json.dumps(f["grants"]) for f in compared["brands"]}) > 1  # different brands, different figures


def test_compare_pins_an_earlier_block(client: TestClient, history: History) -> None:
    brands = [history.brands["acme"], history.brands["lumen"]]
    latest = client.get("/v1/stewardship/compare", params={"brand": brands}).json()["as_of"]["block"]
    earlier = latest // 2
    compared = client.get("/v1/stewardship/compare", params={"brand": brands, "as_of": earlier}).json()
    assert compared["as_of"]["block"] == earlier
    for figures in compared["brands"]:
        assert figures == client.get(f"/v1/stewardship/{figures['brand']}", params={"as_of": earlier}).json()


def test_the_compare_csv_has_a_column_per_brand(client: TestClient, history: History) -> None:
    brands = [history.brands["lumen"], history.brands["acme"]]
    compared = client.get("/v1/stewardship/compare", params={"brand": brands}).json()
    block = compared["as_of"]["block"]
    reply = client.get("/v1/stewardship/compare/figures.csv", params={"brand": brands, "as_of": block})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in reply.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(reply.text)))
    assert table[0] == ["section", "name", "metric", *brands]
    cells = {tuple(row[:3]): row[3:] for row in table[1:]}
    assert len(cells) == len(table) - 1  # one row per metric
    for column, figures in enumerate(compared["brands"]):
        own = list(csv.reader(io.StringIO(to_csv(figures))))[1:]
        for section, name, metric, value in own:  # every figure of each brand's own table, in its column
            assert cells[(section, name, metric)][column] == value, (section, name, metric)
    days = [row[1] for row in table[1:] if row[0] == "daily"]
    assert days == sorted(days)


def _compare_problem(client: TestClient, params: dict[str, Any], status: int, says: str) -> None:
    for path in ("/v1/stewardship/compare", "/v1/stewardship/compare/figures.csv"):
        reply = client.get(path, params=params)
        assert reply.status_code == status, reply.text
        assert reply.headers["content-type"].startswith("application/problem+json")
        assert says in reply.json()["detail"], reply.json()


def test_compare_refuses_bad_lists_and_changes_nothing(client: TestClient, history: History) -> None:
    context = client.app.state.context
    size, block = context.access_log.size, history.chain.rpc.block_number()
    one = history.brands["acme"]
    others = ["0x" + f"{n:02x}" * 20 for n in range(1, 9)]
    _compare_problem(client, {"brand": [one]}, 400, "compare 2 to 8 brands")
    _compare_problem(client, {"brand": [one, *others]}, 400, "not 9")
    _compare_problem(client, {"brand": [one, one.lower()]}, 400, "named more than once")
    _compare_problem(client, {"brand": [one, "0x123"]}, 400, "invalid brand address")
    _compare_problem(client, {"brand": [one, "0x" + "g" * 40]}, 400, "invalid brand address")
    _compare_problem(client, {"brand": [one, others[0]], "as_of": block + 10_000}, 400, "not on the chain yet")
    for params in ({}, {"brand": [one, others[0]], "as_of": "-1"}, {"brand": [one, others[0]], "as_of": "x"}):
        for path in ("/v1/stewardship/compare", "/v1/stewardship/compare/figures.csv"):
            reply = client.get(path, params=params)
            assert reply.status_code == 422, reply.text
            assert reply.headers["content-type"].startswith("application/problem+json")
    assert (context.access_log.size, history.chain.rpc.block_number()) == (size, block)


def test_compare_is_public(client: TestClient, history: History) -> None:
    brands = [history.brands["acme"], "0x" + "ab" * 20]
    reply = client.get(
        "/v1/stewardship/compare", params={"brand": brands}, headers={"Authorization": "Bearer nonsense"}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["brands"][1]["grants"]["given"] == 0
