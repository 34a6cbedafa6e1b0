"""Live servers for brand-integration tests: the real app on uvicorn, on a free port, against the session
anvil; optionally two replicas on one database (each its own context, as two processes would have)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from api_support import Api, api_settings
from consent_ledger.api.app import create_app
from consent_ledger.chain.devnet import free_port
from consent_ledger.composition import build_context
from live_server import app_in_thread

ALL_PERMISSIONS = ["permissions:read", "releases:request", "receipts:read", "insights:query", "webhooks:manage"]


@dataclass
class Served:
    api: Api  # sign-in, grants and relaying, on the first replica's context
    bases: list[str]  # each replica's http://127.0.0.1:<port>

    @property
    def base(self) -> str:
        return self.bases[0]

    def new_key(self, brand_auth: dict[str, str], permissions: list[str], name: str = "server") -> dict[str, Any]:
        reply = self.api.client.post(
            "/v1/brand/api-keys", json={"name": name, "permissions": permissions}, headers=brand_auth
        )
        assert reply.status_code == 201, reply.text
        return dict(reply.json())


@contextmanager
def served(chain: Any, db_url: str, tmp_path: Any, *, replicas: int = 1, **overrides: Any) -> Iterator[Served]:
    settings = api_settings(chain, db_url, tmp_path, **overrides)
    with ExitStack() as stack:
        bases = []
        api: Api | None = None
        for _ in range(replicas):
            context = build_context(settings)
            app = create_app(settings, context_factory=lambda _s, c=context: c, run_relayer=False)
            app.state.context = context  # the test's own calls need it before the lifespan runs
            if api is None:
                api = Api(TestClient(app), context)
            port = free_port()
            stack.enter_context(app_in_thread(app, port))  # its lifespan's end closes the context
            bases.append(f"http://127.0.0.1:{port}")
        assert api is not None
        yield Served(api, bases)
