"""How every labelops Kafka client authenticates: SASL/SCRAM over TLS when configured.

Read from the environment, the same for every client of a process (the runners' consumers and
DLQ producers, the topic admin, and whoever else calls ``kafka_security()``):

- ``LABELOPS_KAFKA_SECURITY_PROTOCOL``: ``PLAINTEXT`` (default: the local stack), ``SSL``,
  ``SASL_PLAINTEXT`` or ``SASL_SSL`` (production: deploy/kafka/);
- ``LABELOPS_KAFKA_SASL_MECHANISM``: ``SCRAM-SHA-512`` (default) or ``SCRAM-SHA-256``;
- ``LABELOPS_KAFKA_SASL_USERNAME`` and ``LABELOPS_KAFKA_SASL_PASSWORD`` or
  ``LABELOPS_KAFKA_SASL_PASSWORD_FILE`` (a mounted secret; trailing newline ignored);
- ``LABELOPS_KAFKA_SSL_CAFILE``: the CA that signed the brokers' certificates (default: the
  system's trust store).

A misconfiguration raises ValueError naming the variable, never echoing the password.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context

PROTOCOLS = frozenset({"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"})
MECHANISMS = frozenset({"SCRAM-SHA-512", "SCRAM-SHA-256"})
_P = "LABELOPS_KAFKA_"


def kafka_security(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (empty for PLAINTEXT)."""
    env = os.environ if environ is None else environ
    protocol = env.get(f"{_P}SECURITY_PROTOCOL", "PLAINTEXT").upper()
    if protocol not in PROTOCOLS:
        raise ValueError(f"{_P}SECURITY_PROTOCOL must be one of {sorted(PROTOCOLS)}")
    if protocol == "PLAINTEXT":
        return {}
    out: dict[str, Any] = {"security_protocol": protocol}
    if protocol.endswith("SSL"):
        out["ssl_context"] = create_ssl_context(cafile=env.get(f"{_P}SSL_CAFILE") or None)
    if protocol.startswith("SASL"):
        mechanism = env.get(f"{_P}SASL_MECHANISM", "SCRAM-SHA-512").upper()
        if mechanism not in MECHANISMS:
            raise ValueError(f"{_P}SASL_MECHANISM must be one of {sorted(MECHANISMS)}")
        user = env.get(f"{_P}SASL_USERNAME", "")
        password = env.get(f"{_P}SASL_PASSWORD", "")
        if path := env.get(f"{_P}SASL_PASSWORD_FILE"):
            password = Path(path).read_text("utf-8").rstrip("\r\n")
        if not user or not password:
            raise ValueError(f"{protocol} needs {_P}SASL_USERNAME and {_P}SASL_PASSWORD(_FILE)")
        out |= {
            "sasl_mechanism": mechanism,
            "sasl_plain_username": user,
            "sasl_plain_password": password,
        }
    return out
