"""Project commands of RoutingService: create a project, change its config, set its rules.

Every command appends its events and updates the read models in one transaction; the
project's row is locked first (see adapters/projects.py).
"""

from __future__ import annotations

import asyncpg
from labelops.routing.v1 import events_pb2 as ev
from labelops.routing.v1 import routing_pb2 as pb
from labelops_core.clock import Clock, utc_now
from labelops_core.context import current_tenant
from labelops_core.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from labelops_eventstore import EventStore, NewEvent
from labelops_eventstore.store import NO_STREAM, StreamAppend
from labelops_ontologykit import OntologyVersions

from ..adapters.read_models import ReadModels
from ..adapters.tables import Executor
from ..domain.project import validate_config, validate_id
from ..domain.rules import PoolInfo, RuleSet, hybrid_default, validate_rules
from .convert import config_from_pb, normalized_config, rules_from_pb, rules_to_pb
from .planning import TaskPlanner, spec_from_item


async def project_row(
    rm: ReadModels, conn: Executor, tenant_id: str, project_id: str, *, lock: bool = False
) -> asyncpg.Record:
    """The tenant's project (with ``tasks_labeled``), or NOT_FOUND ``PROJECT_NOT_FOUND`` (also
    for another tenant's: the same answer)."""
    row = await rm.projects.row(conn, tenant_id, project_id, lock=lock)
    if row is None:
        raise NotFound(f"project {project_id} not found", reason="PROJECT_NOT_FOUND")
    return row


def project_to_pb(row: asyncpg.Record) -> pb.Project:
    p = pb.Project(
        project_id=row["project_id"],
        display_name=row["display_name"],
        dataset_id=row["dataset_id"],
        ontology_id=row["ontology_id"],
        ontology_version=row["ontology_version"],
        config=pb.WorkflowConfig.FromString(row["config"]),
        config_version=row["config_version"],
        rules_version=row["rules_version"],
        tasks_total=row["tasks_total"],
        tasks_labeled=row["tasks_labeled"],
    )
    p.create_time.FromDatetime(row["created_at"])
    return p


def _rule_violations(ruleset: RuleSet, pools: dict[str, PoolInfo]) -> list[FieldViolation]:
    return [
        FieldViolation(f"rules.{v.field}", v.description) for v in validate_rules(ruleset, pools)
    ]


def _create_violations(
    req: pb.CreateProjectRequest, config: pb.WorkflowConfig
) -> list[FieldViolation]:
    bad = validate_id("project_id", req.project_id)
    if not req.ontology_id:
        bad.append(FieldViolation("ontology_id", "required"))
    if not req.ontology_version:
        bad.append(FieldViolation("ontology_version", "an exact published version, e.g. 1.0.0"))
    if len(req.display_name) > 200:
        bad.append(FieldViolation("display_name", "at most 200 characters"))
    bad += validate_config(config_from_pb(config))
    return bad


class ProjectCommands:
    def __init__(
        self,
        store: EventStore,
        rm: ReadModels,
        planner: TaskPlanner,
        ontologies: OntologyVersions,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.rm = rm
        self.planner = planner
        #: Published versions this service has received (a project needs one).
        self.ontologies = ontologies
        self.clock = clock

    async def create_project(self, req: pb.CreateProjectRequest) -> pb.CreateProjectResponse:
        cmd = await self.store.command("CreateProject", req, pb.CreateProjectResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        tenant = current_tenant()
        config = normalized_config(req.config)
        bad = _create_violations(req, config)
        async with self.store.transaction() as conn:
            pools = await self.rm.pools.infos(conn, tenant, lock=True)
            given = rules_from_pb(req.rules) if req.rules.rules or req.rules.default_pools else None
            ruleset = given if given is not None else hybrid_default(1)
            ruleset = RuleSet(version=1, rules=ruleset.rules, default_pools=ruleset.default_pools)
            if bad := bad + _rule_violations(ruleset, pools):
                raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
            await self._check_new(conn, tenant, req)
            project, appends = await self._insert(conn, tenant, req, config, ruleset)
            created = 0
            if req.dataset_id:
                # Items the dataset included before the project existed become its tasks.
                specs = [
                    spec_from_item(r)
                    for r in await self.rm.items.included(conn, tenant, req.dataset_id)
                ]
                row = await project_row(self.rm, conn, tenant, req.project_id)
                more, created = await self.planner.plan_tasks(conn, row, specs, pools)
                appends += more
            resp = pb.CreateProjectResponse(
                project=project, rules=rules_to_pb(ruleset), tasks_created=created
            )
            resp.project.tasks_total = created
            await self.store.append_streams(appends, conn=conn, **cmd.recording(resp))
        return resp

    async def _check_new(
        self, conn: asyncpg.Connection, tenant: str, req: pb.CreateProjectRequest
    ) -> None:
        # The tenant's own published version: another tenant's ontology of the same id is not
        # this tenant's (and answers as one never published).
        if not await self.ontologies.known(req.ontology_id, req.ontology_version, tenant=tenant):
            raise FailedPrecondition(
                f"ontology {req.ontology_id} version {req.ontology_version} is not published"
                " (or its OntologyVersionPublished event has not reached routing yet)",
                reason="ONTOLOGY_VERSION_UNKNOWN",
            )
        # Project ids are per tenant (so are event streams): only the tenant's own project of
        # that id is a conflict; another tenant's is neither seen nor touched.
        if await self.rm.projects.plain(conn, tenant, req.project_id) is not None:
            raise AlreadyExists(f"project {req.project_id} exists", reason="PROJECT_ALREADY_EXISTS")

    async def _insert(
        self,
        conn: asyncpg.Connection,
        tenant: str,
        req: pb.CreateProjectRequest,
        config: pb.WorkflowConfig,
        ruleset: RuleSet,
    ) -> tuple[pb.Project, list[StreamAppend]]:
        now = self.clock()
        project = pb.Project(
            project_id=req.project_id,
            display_name=req.display_name,
            dataset_id=req.dataset_id,
            ontology_id=req.ontology_id,
            ontology_version=req.ontology_version,
            config=config,
            config_version=1,
            rules_version=1,
        )
        project.create_time.FromDatetime(now)
        rules_pb = rules_to_pb(ruleset)
        await self.rm.projects.insert(
            conn,
            tenant,
            project_id=req.project_id,
            display_name=req.display_name,
            dataset_id=req.dataset_id,
            ontology_id=req.ontology_id,
            ontology_version=req.ontology_version,
            config=config.SerializeToString(),
            rules=rules_pb.SerializeToString(),
            created_at=now,
        )
        created = ev.ProjectCreated(project=project, rules=rules_pb)
        return project, [
            StreamAppend(f"projects/{req.project_id}", NO_STREAM, [NewEvent.of(created)])
        ]

    async def update_project_config(
        self, req: pb.UpdateProjectConfigRequest
    ) -> pb.UpdateProjectConfigResponse:
        cmd = await self.store.command("UpdateProjectConfig", req, pb.UpdateProjectConfigResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        tenant = current_tenant()
        config = normalized_config(req.config)
        if bad := validate_config(config_from_pb(config)):
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        async with self.store.transaction() as conn:
            row = await project_row(self.rm, conn, tenant, req.project_id, lock=True)
            if req.expected_config_version and req.expected_config_version != row["config_version"]:
                raise Aborted(
                    f"project {req.project_id} config is at version {row['config_version']}",
                    reason="CONFIG_VERSION_CONFLICT",
                )
            version = row["config_version"] + 1
            await self.rm.projects.set_config(
                conn, tenant, req.project_id, config.SerializeToString(), version
            )
            project = project_to_pb(await project_row(self.rm, conn, tenant, req.project_id))
            resp = pb.UpdateProjectConfigResponse(project=project)
            updated = ev.ProjectConfigUpdated(
                project_id=req.project_id, config=config, config_version=version
            )
            await self.store.append(
                f"projects/{req.project_id}",
                row["stream_version"],
                [NewEvent.of(updated)],
                conn=conn,
                **cmd.recording(resp),
            )
        return resp

    async def set_routing_rules(self, req: pb.SetRoutingRulesRequest) -> pb.SetRoutingRulesResponse:
        cmd = await self.store.command("SetRoutingRules", req, pb.SetRoutingRulesResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        tenant = current_tenant()
        async with self.store.transaction() as conn:
            row = await project_row(self.rm, conn, tenant, req.project_id, lock=True)
            if req.expected_version and req.expected_version != row["rules_version"]:
                raise Aborted(
                    f"project {req.project_id} rules are at version {row['rules_version']}",
                    reason="RULES_VERSION_CONFLICT",
                )
            version = row["rules_version"] + 1
            given = rules_from_pb(req.rules)
            ruleset = RuleSet(version=version, rules=given.rules, default_pools=given.default_pools)
            pools = await self.rm.pools.infos(conn, tenant, lock=False)
            if bad := _rule_violations(ruleset, pools):
                raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
            rules_pb = rules_to_pb(ruleset)
            await self.rm.projects.set_rules(
                conn, tenant, req.project_id, rules_pb.SerializeToString(), version
            )
            resp = pb.SetRoutingRulesResponse(rules=rules_pb)
            await self.store.append(
                f"projects/{req.project_id}",
                row["stream_version"],
                [NewEvent.of(ev.RoutingRulesSet(project_id=req.project_id, rules=rules_pb))],
                conn=conn,
                **cmd.recording(resp),
            )
        return resp
