"""``up`` / ``status`` / ``down`` with one real service process (ontology) against the running
Kafka + Postgres: started through the stack module on a free port with its own run dir, schema
and topic, seen healthy by ``labelops status``, reached with the dev admin key, stopped by
``labelops down``. The infrastructure itself is never started or stopped here."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from cli_support import make_invoke
from labelops_cli import stack


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_one_service_process_up_status_down(
    pg_dsn: str, kafka_bootstrap: str, pg_schema: str, unique_name: str, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    port = _free_port()
    spec = stack.ServiceSpec(
        "ontology",
        port,
        env={
            "LABELOPS_ONTOLOGY_PORT": str(port),
            "LABELOPS_ONTOLOGY_HOST": "127.0.0.1",
            "LABELOPS_ONTOLOGY_PG_DSN": pg_dsn,
            "LABELOPS_ONTOLOGY_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "LABELOPS_ONTOLOGY_SCHEMA": pg_schema,
            "LABELOPS_ONTOLOGY_SERVICE_NAME": unique_name,
            "LABELOPS_ONTOLOGY_GRACE_PERIOD_S": "1",
        },
    )
    st = stack.Stack(run_dir, [spec])
    assert stack.ensure_api_keys(st.keys_file)
    assert not stack.ensure_api_keys(st.keys_file)  # never overwritten
    keys = json.loads(st.keys_file.read_text())
    assert sorted(f.get("vendor_id", "") for f in keys.values()) == ["", "", "vendor-a", "vendor-b"]
    assert st.keys_file.stat().st_mode & 0o077 == 0

    how, pid = st.start("ontology")
    assert how == "started" and pid
    try:
        await st.wait_healthy("ontology", timeout=25)
        assert st.start("ontology") == ("running", pid)  # idempotent: left alone
        assert (run_dir / "ontology.pid").read_text().strip() == str(pid)
        assert (run_dir / "ontology.log").stat().st_size > 0

        env = {
            "LABELOPS_RUN_DIR": str(run_dir),
            "LABELOPS_ONTOLOGY_TARGET": f"127.0.0.1:{port}",
            "LABELOPS_API_KEY": None,  # the CLI finds the dev admin key in the run dir
            "COLUMNS": "200",
        }
        cli = make_invoke({})
        r = await cli("status", env_extra=env)
        assert r.exit_code == 0, r.output
        row = next(line for line in r.stdout.splitlines() if "ontology" in line)
        assert str(pid) in row and f"127.0.0.1:{port}" in row and "SERVING" in row
        assert any(line.split("│")[1].strip() == "kafka" for line in r.stdout.splitlines()[3:-1])

        r = await cli("ontology", "list", "--json", env_extra=env)
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout) == []

        r = await cli("down", "--grace", "10", env_extra=env)
        assert r.exit_code == 0, r.output
        assert "ontology  stopped" in r.stdout
        assert st.pid("ontology") is None
        assert not (run_dir / "ontology.pid").exists()
        r = await cli("status", "--check", env_extra=env)
        assert r.exit_code == 1
        row = next(line for line in r.stdout.splitlines() if "ontology" in line)
        assert "unreachable" in row
    finally:
        await asyncio.to_thread(st.stop, "ontology", 5.0)


async def test_a_process_that_exits_is_reported_with_the_end_of_its_log(tmp_path: Path) -> None:
    port = _free_port()
    spec = stack.ServiceSpec(
        "ontology",
        port,
        env={"LABELOPS_ONTOLOGY_PORT": str(port), "LABELOPS_ONTOLOGY_SCHEMA": "Bad!"},
    )
    st = stack.Stack(tmp_path / "run", [spec])
    how, pid = st.start("ontology")
    assert how == "started" and pid
    with pytest.raises(stack.StackError) as info:
        await st.wait_healthy("ontology", timeout=25)
    message = str(info.value)
    assert message.startswith("ontology exited with code 1; last lines of ")
    assert "LABELOPS_ONTOLOGY_SCHEMA" in message  # the service's own complaint, from its log
    assert st.pid("ontology") is None and not st.pid_file("ontology").exists()
