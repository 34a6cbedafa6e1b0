"""An API per test: the real app on the session anvil and a real database of each kind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api_support import Api, api_settings
from consent_ledger.api.app import create_app


@pytest.fixture
def api(chain, db_url: str, tmp_path) -> Iterator[Api]:
    app = create_app(api_settings(chain, db_url, tmp_path), run_relayer=False)
    with TestClient(app) as client:
        yield Api(client, app.state.context)
