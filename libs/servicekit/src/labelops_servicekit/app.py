"""``build_service``: the composition every labelops service shares, written once.

It opens (or borrows) the Postgres pool, migrates the service's schema, creates the event
store, lets the service wire its own parts, then mounts the service's gRPC servicers,
``EventLogService`` and ``CredentialService`` (API keys hashed in Postgres, schema
``labelops_auth``) on one ``GrpcServer`` (health, reflection, auth with the stored keys,
request caps, per-principal rate limit, error mapping), and runs
the outbox relay, the service's consumers (from its dispatch table) and its own workers under
one ``ServiceRuntime``. On exit it stops them, runs the service's closers and closes the pool
if it opened it. A service's ``bootstrap.py`` names only what is its own::

    def wire(ctx: ServiceContext[Settings]) -> Wiring[Parts]:
        handlers = OntologyHandlers(ctx.store, ...)
        return Wiring(
            parts=Parts(handlers, queries),
            servicers=[Servicer(add_OntologyServiceServicer_to_server, OntologyServicer(...))],
        )

    def build_app(settings, **kw):
        return build_service(settings, wire, **kw)
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg
from labelops.admin.v1 import credentials_pb2_grpc
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops_bus import BatchProjector, ConsumerRunner, RestartableConsumer
from labelops_bus.dispatch import BatchDispatch, Dispatch, EventHandlers
from labelops_core.authz import Action
from labelops_eventstore import EventStore, OutboxRelay, load_migrations, migrate
from labelops_eventstore.audit import AuditLog
from labelops_eventstore.chain import ChainWorker
from labelops_eventstore.grpc_api import EVENTLOG_METHOD_ACTIONS, EventLogServicer
from labelops_grpckit import (
    Authenticator,
    GrpcServer,
    KeySource,
    RateLimit,
    RequestLimits,
    ServiceRuntime,
    Worker,
)

from .credentials import (
    CREDENTIAL_METHOD_ACTIONS,
    CREDENTIAL_SERVICE,
    CredentialServicer,
    KeyStore,
    PgKeySource,
    auth_migrations,
)
from .settings import ServiceSettings

log = logging.getLogger("labelops.servicekit")

S = TypeVar("S", bound=ServiceSettings)
P = TypeVar("P")

EVENTLOG_SERVICE = eventlog_pb2.DESCRIPTOR.services_by_name["EventLogService"].full_name


@dataclass(frozen=True)
class Servicer:
    """A gRPC servicer and the generated ``add_..._to_server`` that mounts it."""

    add_to_server: Callable[[Any, Any], None]
    servicer: Any

    @property
    def service_name(self) -> str:
        """The full proto service name (health, reflection), from the generated function."""
        name = self.add_to_server.__name__.removeprefix("add_").removesuffix("Servicer_to_server")
        module = inspect.getmodule(self.add_to_server)
        pb2_name = (module.__name__ if module else "").removesuffix("_grpc")
        pb2 = __import__(pb2_name, fromlist=["DESCRIPTOR"])
        return str(pb2.DESCRIPTOR.services_by_name[name].full_name)


@dataclass
class ServiceContext(Generic[S]):
    """What a service's ``wire`` gets: its settings, the pool and its event store."""

    settings: S
    pool: asyncpg.Pool
    store: EventStore


@dataclass
class Wiring(Generic[P]):
    """What a service's ``wire`` returns.

    Attributes:
        parts: the service's own objects (handlers, queries, ...), exposed as ``app.parts``.
        servicers: its gRPC APIs (``EventLogService`` is added by the kit).
        consumers: its consumers class instance (an ``EventHandlers`` dispatch table), or None.
        consumer_options: extra keyword arguments per consumer name for its runner / projector
            (``max_batch``, ``before_offset_commit``, ...).
        workers: its own background loops (lease sweeper, indexer, trainer, ...).
        ddl: SQL run after the migrations (tables that libs own, e.g. projector positions).
        closers: awaited on exit, after the runtime stopped, in reverse order.
        method_actions: full gRPC method name → the ``labelops_core.authz.Action`` it needs
            (the service's ``entrypoints/access.py``); the kit adds the event log's and the
            credential API's. A method the table does not name is refused (deny by default:
            with no table, only the kit's own methods are served).
    """

    parts: P
    servicers: Sequence[Servicer]
    consumers: EventHandlers | None = None
    consumer_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    workers: Sequence[Worker] = ()
    ddl: Sequence[str] = ()
    closers: Sequence[Callable[[], Awaitable[None]]] = ()
    method_actions: Mapping[str, Action] = field(default_factory=dict)


@dataclass
class ServiceApp(Generic[S, P]):
    """A running service."""

    settings: S
    pool: asyncpg.Pool
    store: EventStore
    parts: P
    runtime: ServiceRuntime
    #: API keys from ``<auth_schema>.api_keys`` (None when ``auth_keys_enabled`` is off).
    key_source: PgKeySource | None = None

    @property
    def server(self) -> GrpcServer:
        return self.runtime.server

    @property
    def port(self) -> int:
        return self.runtime.port

    @property
    def target(self) -> str:
        """``host:port`` a local client can dial."""
        return self.runtime.target

    async def serve_until_signal(self) -> None:
        """Block until SIGTERM / SIGINT has stopped the gRPC server."""
        await self.runtime.serve_until_signal()


Wire = Callable[[ServiceContext[S]], "Wiring[P] | Awaitable[Wiring[P]]"]
#: ``build_service(authenticator=...)``: an Authenticator, or a factory given the key source.
AuthenticatorFactory = Callable[[KeySource | None], Authenticator]


def consumer_workers(
    settings: ServiceSettings,
    pool: asyncpg.Pool,
    consumers: EventHandlers,
    options: dict[str, dict[str, Any]] | None = None,
) -> list[Worker]:
    """One supervised worker per consumer of a dispatch table: a ``ConsumerRunner`` (one
    transaction per record, dedup by event id) or a ``BatchProjector`` (one per batch,
    positions in Postgres), group ``<service>.<consumer>``, on the producer's topic."""
    workers: list[Worker] = []
    for name, dispatch in consumers.dispatchers().items():
        topic = settings.topic_of(dispatch.producer)
        common: dict[str, Any] = {
            "bootstrap_servers": settings.kafka_bootstrap,
            "group_id": f"{settings.service_name}.{name}",
            "topics": [topic],
            "pool": pool,
            "consumer": name,
            "schema": settings.db_schema,
            "service": settings.service_name,
        }
        common.update((options or {}).get(name, {}))
        factory: Callable[[], Any]
        if isinstance(dispatch, BatchDispatch):
            factory = functools.partial(
                BatchProjector,
                handler=dispatch,
                decode=dispatch.decode,
                prepare=dispatch.prepare,
                **common,
            )
        else:
            assert isinstance(dispatch, Dispatch)
            factory = functools.partial(ConsumerRunner, handler=dispatch, **common)
        consumer = RestartableConsumer(factory, settings.kafka_bootstrap, [topic])
        workers.append(Worker(f"consumer-{name}", consumer.run, consumer.stop))
    return workers


@contextlib.asynccontextmanager
async def build_service(
    settings: S,
    wire: Wire[S, P],
    *,
    pool: asyncpg.Pool | None = None,
    authenticator: Authenticator | AuthenticatorFactory | None = None,
) -> AsyncIterator[ServiceApp[S, P]]:
    """Build, migrate and start a service; stop it on exit.

    ``pool``: use this pool (not closed on exit) instead of opening one from ``pg_dsn``.
    ``authenticator``: credentials; None: from ``LABELOPS_API_KEYS`` / ``LABELOPS_JWT_*`` plus
    the keys stored in ``auth_schema`` (``auth_keys_enabled``). An ``Authenticator`` is used as
    given (stored keys are then not accepted); a factory gets the stored keys' source (None
    when disabled) and returns the authenticator.
    """
    own_pool = pool is None
    if pool is None:
        pool = await asyncpg.create_pool(
            settings.pg_dsn,
            min_size=settings.pg_pool_min_size,
            max_size=settings.pg_pool_max_size,
        )
    closers: list[Callable[[], Awaitable[None]]] = []
    try:
        applied = await migrate(pool, settings.db_schema, load_migrations(settings.migrations_dir))
        if applied:
            log.info("schema %s: applied migrations %s", settings.db_schema, applied)
        store = EventStore(pool, settings.db_schema)
        creds = await _credentials(settings, pool)
        if creds is not None:
            closers = [creds.close]
        made = wire(ServiceContext(settings, pool, store))
        wiring: Wiring[P] = await made if inspect.isawaitable(made) else made
        closers = [*closers, *wiring.closers]
        for ddl in wiring.ddl:
            await pool.execute(ddl)
        workers = _workers(settings, pool, wiring)
        key_source = creds.source if creds is not None else None
        if key_source is not None:
            workers.append(Worker("auth-keys", key_source.run, key_source.stop))
        audit = _audit(settings, pool, workers)
        server = _server(settings, store, wiring, _authenticator(authenticator, key_source), audit)
        if creds is not None:
            server.add_service(
                credentials_pb2_grpc.add_CredentialServiceServicer_to_server,
                CredentialServicer(creds.writer),
                CREDENTIAL_SERVICE,
            )
        runtime = ServiceRuntime(server, workers)
        app = ServiceApp(settings, pool, store, wiring.parts, runtime, key_source)
        await runtime.start()
        try:
            yield app
        finally:
            await runtime.stop()
    finally:
        for close in reversed(closers):
            await close()
        if own_pool:
            await pool.close()


@dataclass
class _Credentials:
    """The stored keys: read through the service's pool, written (CredentialService) and
    migrated through the ``auth_admin_dsn`` pool when one is configured."""

    source: PgKeySource
    writer: KeyStore
    admin_pool: asyncpg.Pool | None

    async def close(self) -> None:
        if self.admin_pool is not None:
            await self.admin_pool.close()


async def _credentials(settings: ServiceSettings, pool: asyncpg.Pool) -> _Credentials | None:
    """The stored API keys (migrated if ``auth_migrate``), first snapshot taken: a service
    that cannot read them fails at start, not at its first call."""
    if not settings.auth_keys_enabled:
        return None
    admin = None
    if settings.auth_admin_dsn:
        admin = await asyncpg.create_pool(settings.auth_admin_dsn, min_size=1, max_size=2)
    try:
        writes = admin or pool
        if settings.auth_migrate:
            await migrate(writes, settings.auth_schema, auth_migrations(), include_eventstore=False)
        source = PgKeySource(
            KeyStore(pool, settings.auth_schema),
            refresh_s=settings.auth_refresh_s,
            max_staleness_s=max(settings.auth_max_staleness_s, settings.auth_refresh_s),
        )
        await source.refresh()
    except BaseException:
        if admin is not None:
            await admin.close()
        raise
    return _Credentials(source, KeyStore(writes, settings.auth_schema), admin)


def _authenticator(
    given: Authenticator | AuthenticatorFactory | None, key_source: PgKeySource | None
) -> Authenticator:
    if isinstance(given, Authenticator):
        return given
    if given is not None:
        return given(key_source)
    return Authenticator.from_env(key_source=key_source)


def _limits(settings: ServiceSettings) -> tuple[RequestLimits, RateLimit | None]:
    limits = RequestLimits(
        max_string_chars=settings.request_max_string_chars,
        max_bytes=settings.request_max_bytes,
        max_repeated=settings.request_max_repeated,
        max_struct_depth=settings.request_max_struct_depth,
    )
    rate = None
    if settings.rate_limit_per_s > 0:
        rate = RateLimit(rate_per_s=settings.rate_limit_per_s, burst=settings.rate_limit_burst)
    return limits, rate


def method_actions_of(settings: ServiceSettings, wiring: Wiring[Any]) -> dict[str, Action]:
    """The server's method -> action table: the service's, the event log's and (when stored
    keys are on) the credential API's."""
    kit = dict(EVENTLOG_METHOD_ACTIONS)
    if settings.auth_keys_enabled:
        kit.update(CREDENTIAL_METHOD_ACTIONS)
    return {**kit, **wiring.method_actions}


def _server(
    settings: ServiceSettings,
    store: EventStore,
    wiring: Wiring[Any],
    authenticator: Authenticator,
    audit: AuditLog | None = None,
) -> GrpcServer:
    limits, rate = _limits(settings)
    server = GrpcServer(
        host=settings.host,
        port=settings.port,
        authenticator=authenticator,
        default_timeout=settings.default_timeout_s,
        max_receive_message_bytes=settings.max_message_bytes,
        max_send_message_bytes=settings.max_message_bytes,
        grace_period=settings.grace_period_s,
        method_actions=method_actions_of(settings, wiring),
        service_name=settings.service_name,
        request_limits=limits,
        rate_limit=rate,
        audit=audit,
    )
    for s in wiring.servicers:
        server.add_service(s.add_to_server, s.servicer, s.service_name)
    server.add_service(
        eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
        EventLogServicer(store, settings.service_name),
        EVENTLOG_SERVICE,
    )
    return server


def _audit(settings: ServiceSettings, pool: asyncpg.Pool, workers: list[Worker]) -> AuditLog | None:
    """The audit sink (its writer and the chain worker join ``workers``); None when off.

    Records are buffered in memory until the writer runs; the runtime stops the writer after
    the server, so the last denials of a stopping service are flushed too.
    """
    if settings.chain_enabled:
        chain = ChainWorker(pool, settings.db_schema, interval_s=settings.chain_interval_s)
        workers.append(Worker("audit-chain", chain.run, chain.stop))
    if not settings.audit_enabled:
        return None
    audit = AuditLog(
        pool,
        settings.db_schema,
        flush_interval_s=settings.audit_flush_interval_s,
        max_buffer=settings.audit_max_buffer,
    )
    workers.append(Worker("audit-log", audit.run, audit.stop))
    return audit


def _workers(settings: ServiceSettings, pool: asyncpg.Pool, wiring: Wiring[Any]) -> list[Worker]:
    workers = list(wiring.workers)
    if settings.relay_enabled:
        relay = OutboxRelay(
            pool, settings.db_schema, settings.service_name, settings.kafka_bootstrap
        )
        workers.append(Worker("outbox-relay", relay.run, relay.stop))
    if settings.consumers_enabled and wiring.consumers is not None:
        workers += consumer_workers(settings, pool, wiring.consumers, wiring.consumer_options)
    return workers
