"""``python -m labelops_ontology`` as operators run it: configured from the environment, serves,
publishes to Kafka, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys

import grpc
from labelops.ontology.v1 import ontology_pb2 as o
from labelops.ontology.v1 import ontology_pb2_grpc
from labelops_grpckit import channel
from ontology_grpc_support import API_KEY, PRINCIPAL, serving, wait_for_envelopes
from ontology_samples import vehicles


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_ontology_process_serves_relays_and_stops_on_sigterm(
    pg_dsn, pg_schema, kafka_bootstrap, unique_name
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "LABELOPS_ONTOLOGY_PG_DSN": pg_dsn,
        "LABELOPS_ONTOLOGY_SCHEMA": pg_schema,
        "LABELOPS_ONTOLOGY_SERVICE_NAME": unique_name,
        "LABELOPS_ONTOLOGY_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "LABELOPS_ONTOLOGY_HOST": "127.0.0.1",
        "LABELOPS_ONTOLOGY_PORT": str(port),
        "LABELOPS_API_KEYS": json.dumps({API_KEY: PRINCIPAL}),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "labelops_ontology",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    target = f"127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if await serving(target):
                    break
            except grpc.aio.AioRpcError:
                pass
            assert proc.returncode is None, await proc.stderr.read()  # type: ignore[union-attr]
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the service did not become SERVING in 10 s")
        async with channel(target, api_key=API_KEY) as ch:
            stub = ontology_pb2_grpc.OntologyServiceStub(ch)
            await stub.CreateOntology(
                o.CreateOntologyRequest(
                    ontology_id="vehicles", display_name="Vehicles", definition=vehicles()
                )
            )
        (env_,) = await wait_for_envelopes(kafka_bootstrap, f"labelops.{unique_name}.events.v1", 1)
        assert (env_.type, env_.stream_id) == (
            "labelops.ontology.v1.OntologyCreated",
            "tenants/acme/ontologies/vehicles",  # ids are per tenant (acme is not the default)
        )
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, stderr.decode()[-3000:]
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    messages = [line["message"] for line in lines]
    assert any("serving on port" in m for m in messages), messages
    assert "ontology service stopped" in messages
    assert not [line for line in lines if line["level"] in ("ERROR", "CRITICAL")]
