"""Pure unit tests of the testkit (no servers: these run under ``pytest -m 'not infra'``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from labelops_testkit import infra as infra_mod
from labelops_testkit.infra import KAFKA_BOOTSTRAP, PG_DSN, Infra, InfraSession, LocalStack


def test_unique_name(unique_name: str, request: pytest.FixtureRequest) -> None:
    assert re.fullmatch(r"t[0-9a-f]{10}", unique_name)
    assert request.node.get_closest_marker("infra") is None


def test_addresses() -> None:
    assert KAFKA_BOOTSTRAP == "127.0.0.1:29092"
    assert PG_DSN == "postgresql://labelops@127.0.0.1:55432/labelops"


def test_repo_root_finds_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABELOPS_HOME", raising=False)
    root = infra_mod.repo_root()
    assert (root / "pyproject.toml").exists()
    assert (root / "deploy" / "local" / "kafka" / "pom.xml").exists()
    monkeypatch.setenv("LABELOPS_HOME", "/tmp/elsewhere")
    assert infra_mod.repo_root() == Path("/tmp/elsewhere")


def test_server_properties_render() -> None:
    stack = LocalStack()
    props = dict(
        line.split("=", 1)
        for line in stack.kafka.render_config().splitlines()
        if line and not line.startswith("#")
    )
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["log.dirs"] == str(stack.root / ".local" / "kafka" / "data")
    assert props["num.partitions"] == "3"
    assert props["min.insync.replicas"] == "1"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["auto.create.topics.enable"] == "true"
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_non_local_infra_cannot_restart_kafka() -> None:
    ext = Infra("external", "h:1", "postgresql://x@h/db", None)
    with pytest.raises(RuntimeError):
        ext.stop_kafka()
    with pytest.raises(RuntimeError):
        ext.start_kafka()


def test_external_mode_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELOPS_KAFKA_BOOTSTRAP", "kafka.example:9092")
    monkeypatch.setenv("LABELOPS_PG_DSN", "postgresql://u@db.example/x")
    monkeypatch.setenv("LABELOPS_QDRANT_URL", "http://qdrant.example:6333")
    session = InfraSession("auto")
    assert session.resolve_mode() == "external"
    got = session.start()
    assert (got.mode, got.kafka_bootstrap, got.pg_dsn, got.qdrant_url) == (
        "external",
        "kafka.example:9092",
        "postgresql://u@db.example/x",
        "http://qdrant.example:6333",
    )
    session.close()


def test_status_command_exits_zero() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "labelops_testkit.infra", "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert names == ["kafka", "postgres", "qdrant"]
