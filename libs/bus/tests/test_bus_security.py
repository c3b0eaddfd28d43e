"""Kafka client security from the environment (no broker needed)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from labelops_bus.security import kafka_security


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    assert kafka_security({}) == {}
    assert kafka_security({"LABELOPS_KAFKA_SECURITY_PROTOCOL": "plaintext"}) == {}


def test_sasl_ssl_with_a_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    opts = kafka_security(
        {
            "LABELOPS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "LABELOPS_KAFKA_SASL_USERNAME": "labelops-qa",
            "LABELOPS_KAFKA_SASL_PASSWORD_FILE": str(secret),
        }
    )
    assert opts["security_protocol"] == "SASL_SSL"
    assert opts["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (opts["sasl_plain_username"], opts["sasl_plain_password"]) == ("labelops-qa", "s3cret")
    assert isinstance(opts["ssl_context"], ssl.SSLContext)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LABELOPS_KAFKA_SECURITY_PROTOCOL": "SASL_GSSAPI"}, "SECURITY_PROTOCOL"),
        (
            {
                "LABELOPS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "LABELOPS_KAFKA_SASL_MECHANISM": "PLAIN",
                "LABELOPS_KAFKA_SASL_USERNAME": "u",
                "LABELOPS_KAFKA_SASL_PASSWORD": "p",
            },
            "SASL_MECHANISM",
        ),
        (
            {
                "LABELOPS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "LABELOPS_KAFKA_SASL_USERNAME": "u",
                "LABELOPS_KAFKA_SASL_PASSWORD": "",
            },
            "SASL_PASSWORD",
        ),
    ],
)
def test_a_misconfiguration_names_the_variable_not_the_password(env: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named) as info:
        kafka_security(env)
    assert "hunter2" not in str(info.value)
