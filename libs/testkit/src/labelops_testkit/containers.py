"""``--infra=containers``: Kafka (apache/kafka image, KRaft) + PostgreSQL through testcontainers.

Only imported when that mode is chosen (it needs a Docker engine and the testcontainers package).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from labelops_testkit.infra import PG_DB, PG_MAX_CONNECTIONS, PG_USER, InfraError, wait_kafka_ready

KAFKA_IMAGE = "apache/kafka:4.1.1"
POSTGRES_IMAGE = "postgres:15"
KAFKA_CLIENT_PORT = 9092  # advertised as <docker host>:<mapped port>
KAFKA_BROKER_PORT = 9093  # inter-broker, inside the container
KAFKA_CONTROLLER_PORT = 9094
START_SCRIPT = "/tmp/labelops-start.sh"
CLUSTER_ID = "bGFiZWxvcHMtdGVzdGluZw"  # any 22-char base64url id: the container is thrown away

KAFKA_ENV = {
    "CLUSTER_ID": CLUSTER_ID,
    "KAFKA_NODE_ID": "1",
    "KAFKA_PROCESS_ROLES": "broker,controller",
    "KAFKA_CONTROLLER_QUORUM_VOTERS": f"1@localhost:{KAFKA_CONTROLLER_PORT}",
    "KAFKA_LISTENERS": (
        f"PLAINTEXT://0.0.0.0:{KAFKA_CLIENT_PORT},BROKER://0.0.0.0:{KAFKA_BROKER_PORT},"
        f"CONTROLLER://0.0.0.0:{KAFKA_CONTROLLER_PORT}"
    ),
    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
        "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT"
    ),
    "KAFKA_INTER_BROKER_LISTENER_NAME": "BROKER",
    "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
    "KAFKA_NUM_PARTITIONS": "3",
    "KAFKA_DEFAULT_REPLICATION_FACTOR": "1",
    "KAFKA_MIN_INSYNC_REPLICAS": "1",
    "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "true",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "10",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
    "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    "KAFKA_HEAP_OPTS": "-Xms256m -Xmx768m",
}


class ContainerStack:
    """Start/stop one Kafka and one PostgreSQL container for a test session."""

    def __init__(self) -> None:
        self.kafka: Any = None
        self.postgres: Any = None

    def start(self, timeout: float = 120.0) -> tuple[str, str]:
        """Start both containers; return (kafka bootstrap, postgres DSN)."""
        try:
            from testcontainers.community.postgres import PostgresContainer
            from testcontainers.core.container import DockerContainer
        except ImportError as exc:  # pragma: no cover - dev dependency
            raise InfraError("--infra=containers needs the 'testcontainers' package") from exc
        try:
            # The advertised listener must name the host port Docker picks, which is only known once
            # the container exists: the container waits for a start script that we copy in.
            kafka = DockerContainer(KAFKA_IMAGE)
            for key, value in KAFKA_ENV.items():
                kafka.with_env(key, value)
            kafka.with_exposed_ports(KAFKA_CLIENT_PORT)
            kafka.with_command(
                [
                    "bash",
                    "-c",
                    f"while [ ! -f {START_SCRIPT} ]; do sleep 0.1; done; exec bash {START_SCRIPT}",
                ]
            )
            self.kafka = kafka
            kafka.start()
            host = kafka.get_container_host_ip()
            port = kafka.get_exposed_port(KAFKA_CLIENT_PORT)
            bootstrap = f"{host}:{port}"
            script = (
                "#!/bin/bash\n"
                f"export KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://{bootstrap},"
                f"BROKER://$(hostname):{KAFKA_BROKER_PORT}\n"
                "exec /etc/kafka/docker/run\n"
            )
            kafka.copy_into_container(script.encode(), START_SCRIPT, 0o755)

            postgres = PostgresContainer(
                POSTGRES_IMAGE,
                username=PG_USER,
                password=PG_USER,
                dbname=PG_DB,
                driver=None,
            )
            postgres.with_command(f"postgres -c max_connections={PG_MAX_CONNECTIONS}")
            self.postgres = postgres
            postgres.start()
            dsn = postgres.get_connection_url(driver=None)

            t0 = time.monotonic()
            try:
                wait_kafka_ready(bootstrap, timeout)
            except Exception as exc:
                logs = b"".join(kafka.get_logs()).decode(errors="replace")
                raise InfraError(
                    f"Kafka container not ready after {time.monotonic() - t0:.0f}s: {exc}\n"
                    + "\n".join(logs.splitlines()[-40:])
                ) from exc
            return bootstrap, dsn
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for container in (self.kafka, self.postgres):
            if container is not None:
                with contextlib.suppress(Exception):
                    container.stop()
        self.kafka = self.postgres = None
