"""`create_app(settings)`: the FastAPI application. Nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from consent_ledger import __version__
from consent_ledger.api import observe, openapi, problems
from consent_ledger.api.body_limits import BodyLimits
from consent_ledger.api.headers import SecurityHeaders
from consent_ledger.api.rate_limits import AddressRateLimit
from consent_ledger.api.routes import apikeys, audit, auth, brand, customer, ops, public, stewardship, webhooks
from consent_ledger.apimodels.audit import Export
from consent_ledger.composition import AppContext, build_context
from consent_ledger.config import Settings

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# uPlot (the pages' charts) from the npm install of a checkout; a wheel carries it as web/vendor/uplot/.
CHARTS_URL = "/vendor/uplot"
CHECKOUT_CHARTS = WEB_DIR.parents[2] / "node_modules" / "uplot" / "dist"


def create_app(
    settings: Settings,
    *,
    context_factory: Callable[[Settings], AppContext] = build_context,
    run_relayer: bool = True,
) -> FastAPI:
    """The app; its lifespan builds the context and, unless `run_relayer` is False or the settings turn
    background jobs off, starts the relayer, anchorer and indexer (each under its lease)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = context_factory(settings)
        app.state.context = context
        if run_relayer and settings.background_jobs:
            context.start_workers()
        try:
            yield
        finally:
            context.close()

    app = FastAPI(
        title="Consent Ledger",
        version=__version__,
        description="Customer-signed data-sharing grants on an EVM chain; data released only when the chain allows.",
        lifespan=lifespan,
    )
    problems.install(app)
    openapi.install(app, Export)  # GET /v1/audit/export answers a download
    observe.count_errors(app)
    # Middlewares, innermost first: the body is read (and bounded) last, after the caller's address passed
    # its rate limit; every response gets the headers, and the request observer (outermost) gives each
    # response its request id and logs and counts it.
    app.add_middleware(BodyLimits, max_bytes=settings.max_body_bytes)
    app.add_middleware(AddressRateLimit)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(observe.RequestObserver)
    for module in (ops, public, auth, customer, brand, apikeys, webhooks, audit, stewardship):
        app.include_router(module.router)
    if not (WEB_DIR / CHARTS_URL.lstrip("/")).is_dir() and CHECKOUT_CHARTS.is_dir():
        app.mount(CHARTS_URL, StaticFiles(directory=CHECKOUT_CHARTS), name="charts")
    if WEB_DIR.is_dir():  # the wallet page and consoles: static files, no build step
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app


def app_from_environment() -> FastAPI:
    """The app from CONSENT_* environment variables alone: the factory each `serve --workers N` process runs."""
    return create_app(Settings())
