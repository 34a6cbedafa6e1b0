"""The typed brand client against a live server on the real chain (issue 11 item 4): every method, paging
through receipts, a refused request as RequestRefusedError with its problem, no server as ServiceFailedError."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api_support import PROFILE, release_to, with_a_grant
from brand_support import ALL_PERMISSIONS, Served, served
from consent_ledger.apimodels.base import ReleaseReceipt
from consent_ledger.apimodels.brand import CheckAnswers, InsightBudget, Release, Segment
from consent_ledger.chain.devnet import free_port
from consent_ledger.client import BrandClient, Question, RequestRefusedError, ServiceFailedError

pytestmark = pytest.mark.chain
CATEGORIES = ["contact.email", "interests"]


@pytest.fixture
def world(chain, tmp_path) -> Iterator[Served]:
    with served(chain, f"sqlite:///{tmp_path / 'client.db'}", tmp_path) as live:
        yield live


def test_every_method_against_a_live_server(world: Served) -> None:
    api = world.api
    brand, brand_auth, customer, _ = with_a_grant(api)
    key = world.new_key(brand_auth, ALL_PERMISSIONS)["key"]
    with BrandClient(world.base, key) as client:
        answers = client.check(
            [
                Question(customer.address, ["contact.email"], "marketing.email"),
                Question(customer.address, ["purchase_history"], "marketing.email"),
            ]
        )
        assert isinstance(answers, CheckAnswers)
        assert (answers.brand, answers.answers) == (brand.address, [True, False])
        assert client.allowed(customer.address, CATEGORIES, "marketing.email") is True
        segment = client.segment(CATEGORIES, "marketing.email")
        assert isinstance(segment, Segment)
        assert segment.customers == [customer.address]
        released = client.release([customer.address], CATEGORIES, "marketing.email")
        assert isinstance(released, Release)
        assert released.released[0].fields["email"] == PROFILE["email"]["value"]
        for _ in range(2):
            release_to(api, brand_auth, customer.address)
        page = client.receipts(limit=2)
        assert len(page.releases) == 2
        assert page.next is not None
        every = list(client.iter_receipts(page_size=1))
        assert all(isinstance(r, ReleaseReceipt) for r in every)
        assert len({r.receipt_id for r in every}) == 3  # three releases, each seen once, newest first
        assert every[0].receipt_id == page.releases[0].receipt_id
        assert [r.released_at for r in every] == sorted((r.released_at for r in every), reverse=True)
        assert client.receipts(limit=1, after=page.next).releases[0].receipt_id == every[2].receipt_id
        budget = client.insight_budget()
        assert isinstance(budget, InsightBudget)
        assert budget.brand == brand.address


def test_a_refused_request_carries_its_problem(world: Served) -> None:
    _, brand_auth = world.api.brand()
    key = world.new_key(brand_auth, ["receipts:read"])
    with BrandClient(world.base, key["key"]) as client:
        assert client.receipts().releases == []
        with pytest.raises(RequestRefusedError) as refused:
            client.release(["0x" + "11" * 20], CATEGORIES, "marketing.email")
        assert refused.value.status == 403
        assert "releases:request" in refused.value.problem.detail
        with pytest.raises(RequestRefusedError) as bad:
            client.receipts(after="not a cursor")
        assert bad.value.status == 400
    world.api.client.delete(f"/v1/brand/api-keys/{key['id']}", headers=brand_auth)
    with BrandClient(world.base, key["key"]) as client, pytest.raises(RequestRefusedError) as revoked:
        client.receipts()
    assert revoked.value.status == 401


def test_no_server_is_a_service_failure() -> None:
    with (
        BrandClient(f"http://127.0.0.1:{free_port()}", "clk_0123456789abcdef_" + "A" * 43, timeout=5) as client,
        pytest.raises(ServiceFailedError, match="no answer"),
    ):
        client.receipts()
