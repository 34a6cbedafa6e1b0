"""The composition root: everything a running process needs, built from Settings in one place.

Only the API's app factory (in its lifespan) and the CLI import this module; every other package gets
what it needs handed in, so imports run one way: api -> services -> relayer / audit / indexer / chain /
vault -> db, config, errors, domain.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.apikeys import ApiKeyStore
from consent_ledger.audit.anchoring import Anchorer
from consent_ledger.audit.log import AccessLog
from consent_ledger.auth.sql_nonces import SqlNonceStore
from consent_ledger.auth.tokens import TokenSigner
from consent_ledger.brands.registry import BrandRegistry
from consent_ledger.catalog import Catalog, default_catalog
from consent_ledger.chain.connect import connect
from consent_ledger.chain.deploy import Deployment
from consent_ledger.chain.keystore import load_keystore, read_password
from consent_ledger.chain.ledger import Ledger
from consent_ledger.config import ANVIL_RELAYER_KEY, DEVNET_CHAIN_ID, Settings
from consent_ledger.db.binding import bind_deployment, check_binding
from consent_ledger.db.engine import make_engine, make_session_factory
from consent_ledger.db.migrate import require_current, upgrade
from consent_ledger.errors import ConfigError
from consent_ledger.indexer.runner import Indexer
from consent_ledger.leases import Lease, LeaseStore, replica_id
from consent_ledger.local_secrets import RETIRED_MASTER_KEY_ID, load_secrets, refuse_retired_master_key
from consent_ledger.observability.metrics import Metrics
from consent_ledger.ratelimit import LimitSpec, RateLimits
from consent_ledger.relayer.outbox import Outbox
from consent_ledger.relayer.worker import RelayerWorker
from consent_ledger.sender.durable import DurableSender
from consent_ledger.services.audit import AuditService
from consent_ledger.services.consents import ConsentService
from consent_ledger.services.gatekeeper import Gatekeeper
from consent_ledger.services.insights import InsightPolicy, InsightService
from consent_ledger.services.notices import NoticeService
from consent_ledger.services.readiness import ReadinessService
from consent_ledger.services.releases import ReleaseService
from consent_ledger.services.sessions import SessionService
from consent_ledger.services.stewardship import StewardshipService
from consent_ledger.services.webhooks import WebhookService
from consent_ledger.vault import MasterKey, Vault
from consent_ledger.webhooks.deliveries import DeliveryViews
from consent_ledger.webhooks.emitter import Emitter
from consent_ledger.webhooks.endpoints import EndpointStore
from consent_ledger.webhooks.outbox import RetryPolicy, WebhookOutbox
from consent_ledger.webhooks.signing import SigningKey, load_signing_key
from consent_ledger.webhooks.worker import DeliveryLimits, WebhookWorker


def rate_limits(settings: Settings) -> RateLimits:
    spec = LimitSpec(
        per_address=settings.rate_limit_per_address,
        per_identity=settings.rate_limit_per_identity,
        nonces_per_address=settings.rate_limit_nonces_per_address,
    )
    return RateLimits(settings.rate_limit_storage, spec)


@dataclass
class AppContext:
    settings: Settings
    catalog: Catalog
    engine: Engine
    sessions: sessionmaker[Session]
    ledger: Ledger
    deployment: Deployment
    vault: Vault
    outbox: Outbox
    brands: BrandRegistry
    gatekeeper: Gatekeeper
    consents: ConsentService
    releases: ReleaseService
    insights: InsightService
    stewardship: StewardshipService
    auth: SessionService
    api_keys: ApiKeyStore
    relayer: RelayerWorker
    access_log: AccessLog
    anchorer: Anchorer
    audit: AuditService
    notices: NoticeService
    indexer: Indexer
    leases: LeaseStore
    replica: str
    metrics: Metrics
    readiness: ReadinessService
    rate_limits: RateLimits
    webhook_endpoints: EndpointStore
    webhook_key: SigningKey
    webhooks: WebhookService
    webhook_outbox: WebhookOutbox
    webhook_worker: WebhookWorker

    def start_workers(self) -> None:
        """The background jobs of a serving process: relayer, anchorer, indexer, webhook delivery. Each
        runs only while this replica holds its lease, so every job runs on one replica at a time."""
        self.relayer.start(self.settings.relayer_interval)
        # The anchorer looks four times per anchoring interval, so after a node restart that took an
        # anchor away it is sent again and stored within one interval.
        self.anchorer.start(min(1.0, self.settings.anchor_every_seconds / 4))
        self.indexer.start(self.indexer_interval)
        self.webhook_worker.start(self.settings.webhook_interval)

    @property
    def indexer_interval(self) -> float:
        """Seconds between the indexer's looks at the node's head: the relayer's interval, so a transaction
        the relayer saw confirmed is indexed (and its webhooks emitted) within about as long again."""
        return self.settings.relayer_interval

    def close(self) -> None:
        self.relayer.stop()
        self.anchorer.stop()
        self.indexer.stop()
        self.webhook_worker.stop()
        self.engine.dispose()
        self.ledger.rpc.close()


def relayer_key(settings: Settings, chain_id: int) -> str:
    if settings.relayer_key is not None:
        return settings.relayer_key.get_secret_value()
    if settings.relayer_keystore is not None:
        account = load_keystore(settings.relayer_keystore, read_password(settings.relayer_password_file))
        return "0x" + bytes(account.key).hex()
    if chain_id == DEVNET_CHAIN_ID:
        return ANVIL_RELAYER_KEY
    raise ConfigError(
        f"chain {chain_id} is not the devnet: set CONSENT_RELAYER_KEYSTORE (with CONSENT_RELAYER_PASSWORD_FILE) "
        "to a funded key for the relayer"
    )


def database_url(settings: Settings, deployment: Deployment) -> str:
    """CONSENT_DATABASE_URL, or an SQLite file of this deployment's own under var/, named by chain id,
    genesis and contract (so a redeployed contract, or a fresh devnet where the same key put the contract
    at the same address, starts with a fresh database instead of another deployment's outbox)."""
    if settings.database_url:
        return settings.database_url
    name = f"consent-{deployment.label}-{deployment.address[2:10].lower()}.db"
    return f"sqlite:///{settings.var_path / name}"


@dataclass
class Storage:
    """The chain and the database of one deployment: what every command starts from."""

    ledger: Ledger
    deployment: Deployment
    engine: Engine
    sessions: sessionmaker[Session]

    def close(self) -> None:
        self.engine.dispose()
        self.ledger.rpc.close()


def open_storage(settings: Settings, *, migrate: bool = False) -> Storage:
    """Connect to the chain, check (or, with `migrate`, upgrade) the deployment's database schema, and
    bind the database to the deployment. Only `consent-ledger db upgrade` migrates."""
    ledger, deployment = connect(settings)
    url = database_url(settings, deployment)
    engine = make_engine(url)
    storage = Storage(ledger, deployment, engine, make_session_factory(engine))
    identity = (deployment.chain_id, deployment.genesis_hash, deployment.address)
    try:
        if migrate:
            check_binding(storage.sessions, *identity)  # refuse another deployment's database before changing it
            upgrade(url)
        else:
            require_current(url)
        bind_deployment(storage.sessions, *identity)
    except BaseException:
        storage.close()
        raise
    return storage


def make_indexer(settings: Settings, storage: Storage, guard: Lease | None = None) -> Indexer:
    deployment = storage.deployment
    return Indexer(
        storage.ledger.rpc,
        deployment.address,
        deployment.deploy_block,
        storage.sessions,
        settings.confirmations,
        guard=guard,
    )


def _refuse_a_foreign_vault(vault: Vault, engine: Engine, source: str) -> None:
    """Start only on a database whose vault data this installation's master key can read."""
    foreign = vault.foreign_master_keys()
    if not foreign:
        return
    named = [
        f"{key} (the public development key of earlier versions)" if key == RETIRED_MASTER_KEY_ID else key
        for key in foreign
    ]
    database = engine.url.render_as_string(hide_password=True)
    raise ConfigError(
        f"the database {database} holds customer data encrypted under master key {', '.join(named)}, "
        f"not under this installation's key {vault.master_key_id} (from {source}): it cannot be read, so nothing "
        "starts on it. If it is development data, delete that database and start again (`consent-ledger seed` "
        "writes the demo data anew); otherwise set CONSENT_MASTER_KEY to the key it was made with."
    )


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        settings.webhook_retry_base_seconds,
        settings.webhook_retry_cap_seconds,
        settings.webhook_dead_after_seconds,
        settings.webhook_disable_after_seconds,
    )


def delivery_limits(settings: Settings) -> DeliveryLimits:
    return DeliveryLimits(
        settings.webhook_threads,
        settings.webhook_per_endpoint,
        settings.webhook_connect_timeout_seconds,
        settings.webhook_timeout_seconds,
        settings.webhook_dev_destinations_allowed,
    )


def insight_policy(settings: Settings) -> InsightPolicy:
    return InsightPolicy(
        settings.insight_epsilon_per_query,
        settings.insight_epsilon_per_period,
        settings.insight_period_seconds,
        settings.insight_min_group_size,
    )


def build_context(settings: Settings) -> AppContext:
    """Migrate the database, connect to the chain, and wire the services."""
    settings.check_production()
    limits = rate_limits(settings)  # a bad limit string fails before anything is opened
    storage = open_storage(settings)
    ledger, deployment, engine, sessions = storage.ledger, storage.deployment, storage.engine, storage.sessions
    catalog = default_catalog()
    secrets = load_secrets(settings)
    master = MasterKey.from_string(secrets.master_key)
    refuse_retired_master_key(master.key_id)
    webhook_key = load_signing_key(settings)
    webhook_endpoints = EndpointStore(master)
    webhook_outbox = WebhookOutbox(webhook_endpoints, retry_policy(settings))
    emitter = Emitter(webhook_outbox, deployment.chain_id, ledger.rpc)
    vault = Vault(sessions, master, catalog, on_erase=emitter.erased)
    _refuse_a_foreign_vault(vault, engine, secrets.master_key_source)
    vault.counting.rebuild_counts()  # the counting records of data stored before they existed (one query when none)
    outbox = Outbox(sessions)
    brands = BrandRegistry(sessions)
    gatekeeper = Gatekeeper(ledger, settings.confirmations)
    signer = ledger.sender(relayer_key(settings, deployment.chain_id))
    leases = LeaseStore(sessions)
    replica = replica_id()

    def lease(job: str) -> Lease:
        return Lease(leases, job, replica, settings.lease_seconds)

    def durable(purpose: str) -> DurableSender:
        return DurableSender(signer, sessions, purpose, replace_after=settings.relayer_replace_after)

    worker = RelayerWorker(
        outbox,
        ledger,
        durable("relay"),
        deployment.deploy_block,
        settings.relayer_batch_size,
        holder=replica,
        max_backoff=settings.relayer_max_backoff,
        guard=lease("relayer"),
    )
    access_log = AccessLog(sessions)
    anchorer = Anchorer(
        access_log,
        ledger,
        durable("anchor"),
        settings.anchor_every_leaves,
        settings.anchor_every_seconds,
        guard=lease("anchorer"),
    )
    tokens = TokenSigner(secrets.token_secret, settings.token_ttl)
    api_keys = ApiKeyStore(sessions)
    auth = SessionService(
        SqlNonceStore(sessions, ttl_seconds=600, max_pending=settings.max_pending_nonces),
        tokens,
        settings.domains,
        deployment.chain_id,
        brands,
        settings.auditors,
        api_keys,
    )
    indexer = make_indexer(settings, storage, lease("indexer"))
    readiness = ReadinessService(sessions, ledger.rpc, access_log, indexer, leases, replica)
    metrics = Metrics()
    metrics.set_scrape(readiness.gauges)
    return AppContext(
        settings=settings,
        catalog=catalog,
        engine=engine,
        sessions=sessions,
        ledger=ledger,
        deployment=deployment,
        vault=vault,
        outbox=outbox,
        brands=brands,
        gatekeeper=gatekeeper,
        consents=ConsentService(ledger, outbox, catalog, brands),
        releases=ReleaseService(gatekeeper, vault, sessions, catalog, access_log, on_released=emitter.released),
        insights=InsightService(gatekeeper, vault, sessions, catalog, access_log, insight_policy(settings)),
        stewardship=StewardshipService(
            ledger.rpc, access_log, deployment.address, anchorer.custodian, deployment.deploy_block, catalog
        ),
        auth=auth,
        api_keys=api_keys,
        relayer=worker,
        access_log=access_log,
        anchorer=anchorer,
        audit=AuditService(
            access_log,
            anchorer,
            ledger,
            deployment,
            sessions,
            catalog,
            brands,
            [signer.address],
            vault=vault,
            ack_within=settings.ack_within_seconds,
        ),
        notices=NoticeService(sessions, access_log, vault, brands, ledger.rpc),
        indexer=indexer,
        leases=leases,
        replica=replica,
        metrics=metrics,
        readiness=readiness,
        rate_limits=limits,
        webhook_endpoints=webhook_endpoints,
        webhook_key=webhook_key,
        webhooks=WebhookService(
            sessions,
            webhook_endpoints,
            webhook_key,
            allow_private=settings.webhook_dev_destinations_allowed,
            views=DeliveryViews(webhook_outbox, webhook_endpoints),
        ),
        webhook_outbox=webhook_outbox,
        webhook_worker=WebhookWorker(
            sessions, webhook_outbox, emitter, webhook_key, delivery_limits(settings), guard=lease("webhooks")
        ),
    )
