"""infra.py was split (infra_base, local_kafka, local_postgres, local_stack): every name it had
still imports from it, and the stack's layout under .local/ is the same. No server is touched."""

from __future__ import annotations

from pathlib import Path

import labelops_testkit.infra as infra


def test_every_name_of_the_infra_module_still_imports_from_it() -> None:
    for name in (
        *("KAFKA_VERSION", "KAFKA_HOST", "KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "KAFKA_BOOTSTRAP"),
        *("KAFKA_HEAP", "PG_HOST", "PG_PORT", "PG_USER", "PG_DB", "PG_MAX_CONNECTIONS", "PG_DSN"),
        *("ENV_HOME", "ENV_KAFKA", "ENV_PG", "ENV_QDRANT", "ENV_PG_BIN", "MODES", "PG_TIMEOUT"),
        *("KAFKA_READY_TIMEOUT", "KAFKA_STOP_TIMEOUT", "LOG_ROTATE_BYTES", "InfraError"),
        *("repo_root", "qdrant_url_from_env", "pid_alive", "wait_kafka_ready", "main"),
        *("docker_engine_available", "find_pg_bin", "_run", "_run_coro", "_port_open", "_log"),
        *("Infra", "KafkaLocal", "PostgresLocal", "LocalStack", "InfraSession", "_FileLock"),
    ):
        assert hasattr(infra, name), name
    assert sorted(infra.__all__) == sorted(
        [
            *("KAFKA_BOOTSTRAP", "PG_DSN", "Infra", "InfraError", "InfraSession", "KafkaLocal"),
            *("LocalStack", "PostgresLocal", "docker_engine_available", "main", "repo_root"),
            "wait_kafka_ready",
        ]
    )


def test_the_layout_under_local_is_unchanged(tmp_path: Path) -> None:
    stack = infra.LocalStack(tmp_path)
    local = tmp_path / ".local"
    assert stack.kafka.dir == local / "kafka"
    assert (stack.kafka.pidfile, stack.kafka.logfile) == (
        local / "kafka" / "kafka.pid",
        local / "kafka" / "kafka.log",
    )
    assert stack.kafka.data == local / "kafka" / "data"
    assert (stack.postgres.data, stack.postgres.run_dir, stack.postgres.logfile) == (
        local / "pg" / "data",
        local / "pg" / "run",
        local / "pg" / "pg.log",
    )
    assert stack.lock.path == local / "infra.lock"
    assert (stack.sessions_dir, stack.pin_file) == (local / "sessions", local / "pinned")
    assert not stack.kafka.running() and not stack.postgres.running()
