"""The container files: one image for every service, and docker-compose.yml running each from it.

No Docker engine here (nor in CI), so the files are checked as data: what they name must exist.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("ontology", "curation", "routing", "qa", "datasets", "prelabel", "gateway")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_one_dockerfile_serves_every_service() -> None:
    assert not list((ROOT / "services").glob("*/Dockerfile*"))
    text = (ROOT / "Dockerfile").read_text()
    assert "USER 10001" in text and "HEALTHCHECK" in text
    assert 'python -m \\"labelops_${LABELOPS_SERVICE}\\"' in text
    # Every directory the image's pip install reads is copied in.
    pyproject = (ROOT / "pyproject.toml").read_text()
    src_roots = re.findall(r'"((?:libs|services|demo)/[^"]+/src)"', pyproject)
    roots = {p.split("/")[0] for p in src_roots}
    copied = set(re.findall(r"^COPY (\w+)/ ", text, re.M))
    assert roots <= copied


def test_compose_runs_every_service_from_the_one_image() -> None:
    services = compose()["services"]
    for name in SERVICES:
        svc = services[name]
        assert svc["build"] == {"context": ".", "dockerfile": "Dockerfile"}
        assert svc["image"] == "labelops/labelops:dev"
        env = svc["environment"]
        assert env["LABELOPS_SERVICE"] == name
        assert importlib.util.find_spec(f"labelops_{name}.__main__") is not None
        # Settings of a service use its own prefix: a typo would be ignored silently.
        for key in env:
            if key.startswith("LABELOPS_") and key not in ("LABELOPS_SERVICE", "LABELOPS_API_KEYS"):
                assert key.startswith(f"LABELOPS_{name.upper()}_"), (name, key)


# --- least privilege (deploy/postgres, deploy/kafka) --------------------------------------

#: Services with a Postgres schema and a Kafka user of their own (the gateway has neither
#: schema nor group: it only reads the events topics).
DB_SERVICES = ("ontology", "curation", "routing", "qa", "datasets", "prelabel")
ROLES_SQL = ROOT / "deploy" / "postgres" / "roles.sql"
ACLS = ROOT / "deploy" / "kafka" / "acls.sh"


def consumed_producers(service: str) -> set[str]:
    """The producers whose topic ``service``'s dispatch table reads (from the code)."""
    import importlib
    import inspect

    from labelops_bus.dispatch import EventHandlers, handled_events

    try:
        module = importlib.import_module(f"labelops_{service}.entrypoints.consumers")
    except ModuleNotFoundError:
        return set()
    tables = [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, EventHandlers) and c.__module__ == module.__name__
    ]
    return {row.producer for c in tables for row in handled_events(c)}


def acl_lines() -> list[str]:
    out = subprocess.run(
        ["bash", str(ACLS), "--dry-run"], check=True, capture_output=True, text=True
    ).stdout
    return [line for line in out.splitlines() if "kafka-acls.sh" in line]


def grants(lines: list[str], user: str) -> set[tuple[str, str, str]]:
    """(operation, resource kind, resource name) allowed to ``user`` by acls.sh."""
    out: set[tuple[str, str, str]] = set()
    for line in lines:
        words = shlex.split(line)
        if words[words.index("--allow-principal") + 1] != f"User:{user}":
            continue
        ops = [words[i + 1] for i, w in enumerate(words) if w == "--operation"]
        if "--topic" in words:
            resource = ("topic", words[words.index("--topic") + 1])
        elif "--group" in words:
            assert words[words.index("--resource-pattern-type") + 1] == "prefixed"
            resource = ("group-prefix", words[words.index("--group") + 1])
        else:
            assert "--cluster" in words
            resource = ("cluster", "")
        out |= {(op, *resource) for op in ops}
    return out


def test_every_service_has_a_postgres_role_owning_its_schema() -> None:
    sql = ROLES_SQL.read_text()
    listed = re.search(r"services text\[\] := ARRAY\[([^\]]*)\]", sql)
    assert listed is not None
    assert sorted(re.findall(r"'(\w+)'", listed.group(1))) == sorted(DB_SERVICES)
    assert "AUTHORIZATION %I', svc, 'labelops_' || svc" in sql


def test_every_service_writes_only_its_topics_and_reads_what_its_table_consumes() -> None:
    lines = acl_lines()
    assert lines
    for svc in DB_SERVICES:
        got = grants(lines, f"labelops-{svc}")
        writes = {(kind, name) for op, kind, name in got if op == "Write"}
        assert writes == {
            ("topic", f"labelops.{svc}.events.v1"),
            ("topic", f"labelops.{svc}.dlq.v1"),
        }, svc
        reads = {name for op, kind, name in got if op == "Read" and kind == "topic"}
        wanted = consumed_producers(svc)
        assert reads == {f"labelops.{p}.events.v1" for p in wanted}, svc
        groups = {name for op, kind, name in got if kind == "group-prefix"}
        assert groups == ({f"{svc}."} if wanted else set()), svc
        assert not {op for op, _, _ in got} & {"All", "Create", "Delete", "Alter"}, svc
    events = {f"labelops.{s}.events.v1" for s in DB_SERVICES}
    gateway = grants(lines, "labelops-gateway")
    assert {name for op, _, name in gateway if op == "Read"} == events
    assert not {op for op, _, _ in gateway} - {"Read", "Describe"}


def test_the_broker_denies_what_no_acl_allows() -> None:
    props = (ROOT / "deploy" / "kafka" / "server-sasl.properties").read_text()
    assert "allow.everyone.if.no.acl.found=false" in props
    assert "sasl.enabled.mechanisms=SCRAM-SHA-512" in props
    assert "auto.create.topics.enable=false" in props


async def test_roles_sql_gives_each_role_its_schema_and_only_reads_of_the_keys(
    pg_dsn: str,
) -> None:
    import asyncpg

    tag = f"t{uuid.uuid4().hex[:8]}"
    names = {s: f"{tag}_{s}" for s in DB_SERVICES}
    auth = f"{tag}_auth"
    sql = "\n".join(ln for ln in ROLES_SQL.read_text().splitlines() if not ln.startswith("\\"))
    # Fresh schema names (the shared test database has the real ones); same statements.
    sql = re.sub(r"\blabelops_auth\b(?!_)", auth, sql)
    sql = sql.replace(
        "ARRAY['ontology', 'curation', 'routing', 'qa', 'datasets', 'prelabel']",
        "ARRAY[" + ", ".join(f"'{n}'" for n in names.values()) + "]",
    )
    conn = await asyncpg.connect(pg_dsn)
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute(sql)
        await conn.execute(sql)  # idempotent
        await conn.execute("SET ROLE labelops_auth_admin")
        await conn.execute(f"CREATE TABLE {auth}.api_keys (key_id text PRIMARY KEY)")
        await conn.execute(f"INSERT INTO {auth}.api_keys VALUES ('k1')")
        await conn.execute("RESET ROLE")
        routing, qa = names["routing"], names["qa"]
        await conn.execute(f"SET ROLE labelops_{qa}")
        await conn.execute(f"CREATE TABLE {qa}.reviews (id int)")
        await conn.execute("RESET ROLE")
        await conn.execute(f"SET ROLE labelops_{routing}")
        await conn.execute(f"CREATE TABLE {routing}.tasks (id int)")  # its own schema
        # The service's own start-up migrations run under its role (no CREATE on the database).
        from labelops_eventstore import migrate

        assert "eventstore/0001_eventstore.sql" in await migrate(conn, routing)
        assert await conn.fetchval(f"SELECT count(*) FROM {routing}.events") == 0
        assert await conn.fetchval(f"SELECT key_id FROM {auth}.api_keys") == "k1"
        for denied in (
            f"INSERT INTO {auth}.api_keys VALUES ('forged')",
            f"SELECT * FROM {qa}.reviews",
            f"CREATE TABLE {qa}.mine (id int)",
            "CREATE TABLE public.mine (id int)",
            f"CREATE SCHEMA {tag}_new",
        ):
            await conn.execute("SAVEPOINT probe")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(denied)
            await conn.execute("ROLLBACK TO SAVEPOINT probe")
    finally:
        await tx.rollback()
        await conn.close()
