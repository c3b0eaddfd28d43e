"""Composition root of the prelabel service: what is its own, on the shared scaffold.

``build_app`` (``labelops_servicekit.build_service``) connects or borrows a pool, migrates the
schema, runs ``wire`` below, serves PrelabelService + EventLogService (port 50054) and runs,
supervised: the outbox relay, the consumers of routing's, QA's and curation's events
(``entrypoints/consumers.py``) and, with ``workers_enabled``, the pre-label and training loops.
No I/O at import time::

    async with build_app(Settings()) as app:
        await app.serve_until_signal()  # SIGTERM / SIGINT → graceful stop

Tests pass their own schema, service name (→ topic), topics, pool and authenticator, and port
0, and reach the service's objects as ``app.parts.<name>``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg
from labelops.prelabel.v1 import prelabel_pb2_grpc
from labelops_core.clock import Clock, utc_now
from labelops_core.netguard import OutboundPolicy
from labelops_grpckit import Authenticator, Worker
from labelops_servicekit import ServiceApp, ServiceContext, Servicer, Wiring, build_service

from .adapters.model_server import ModelServerClient, ModelServers
from .application.out_of_sample import OutOfSample
from .application.predictions import Predictor
from .application.prelabeling import Prelabeler
from .application.projections import Projections
from .application.registry import ModelRegistry
from .application.repos import Repos
from .application.scoring import Scorer
from .application.switches import RoiSwitches
from .application.training import Trainer
from .application.workers import prelabel_loop, trainer_loop
from .config import Settings
from .domain.roi import RoiPolicy
from .entrypoints.access import METHOD_ACTIONS
from .entrypoints.consumers import PrelabelConsumers
from .entrypoints.grpc_api import PrelabelServicer


@dataclass
class Parts:
    """The prelabel service's own objects (``app.parts``)."""

    repos: Repos
    registry: ModelRegistry
    trainer: Trainer
    prelabeler: Prelabeler
    predictor: Predictor
    scorer: Scorer
    switches: RoiSwitches
    projections: Projections
    out_of_sample: OutOfSample
    consumers: PrelabelConsumers


App: TypeAlias = ServiceApp[Settings, Parts]


def model_servers(s: Settings) -> ModelServers:
    """One client per model server URL, with the settings' deadline, retries and breaker,
    behind the outbound guard (``outbound_allow``: what besides public addresses it may call)."""

    def client(url: str) -> ModelServerClient:
        return ModelServerClient(
            url,
            timeout_s=s.model_timeout_s,
            retries=s.model_retries,
            breaker_failures=s.model_breaker_failures,
            breaker_reset_s=s.model_breaker_reset_s,
        )

    return ModelServers(client, OutboundPolicy.of(s.outbound_allow))


def parts(s: Settings, repos: Repos, clock: Clock = utc_now) -> Parts:
    policy = RoiPolicy(
        min_samples_each=s.roi_min_samples,
        min_saving_s=s.roi_min_saving_s,
        hysteresis_s=s.roi_hysteresis_s,
        n_boot=s.roi_n_boot,
    )
    trainer = Trainer(repos, s.min_labels_to_train, clock)
    predictor = Predictor(repos)
    switches = RoiSwitches(repos, policy, window=s.roi_window, eval_every=s.roi_eval_every)
    projections = Projections(repos, trainer, switches)
    return Parts(
        repos=repos,
        registry=ModelRegistry(repos, trainer, clock),
        trainer=trainer,
        prelabeler=Prelabeler(
            repos,
            batch=s.prelabel_batch,
            attempts=s.prelabel_attempts,
            explore_rate=s.roi_explore_rate,
        ),
        predictor=predictor,
        scorer=Scorer(repos, predictor),
        switches=switches,
        projections=projections,
        out_of_sample=OutOfSample(repos),
        consumers=PrelabelConsumers(projections),
    )


def wire(ctx: ServiceContext[Settings]) -> Wiring[Parts]:
    s = ctx.settings
    servers = model_servers(s)
    p = parts(s, Repos.of(ctx.store, servers))
    workers: list[Worker] = []
    if s.workers_enabled:
        for name, loop in (
            ("prelabel", prelabel_loop(p.prelabeler, s.db_schema, s.poll_interval_s)),
            ("trainer", trainer_loop(p.trainer, p.scorer, s.poll_interval_s)),
        ):
            workers.append(Worker(name, loop.run, loop.stop))
    servicer = PrelabelServicer(
        p.registry, p.trainer, p.predictor, p.scorer, p.switches, p.out_of_sample
    )
    return Wiring(
        parts=p,
        servicers=[Servicer(prelabel_pb2_grpc.add_PrelabelServiceServicer_to_server, servicer)],
        consumers=p.consumers,
        workers=workers,
        closers=[servers.close],
        method_actions=METHOD_ACTIONS,
    )


def build_app(
    settings: Settings,
    *,
    pool: asyncpg.Pool | None = None,
    authenticator: Authenticator | None = None,
) -> contextlib.AbstractAsyncContextManager[App]:
    """Build, migrate and start the service; stop it on exit (``pool``: borrow this one, not
    closed on exit; ``authenticator``: credentials, from the environment when None)."""
    return build_service(settings, wire, pool=pool, authenticator=authenticator)
