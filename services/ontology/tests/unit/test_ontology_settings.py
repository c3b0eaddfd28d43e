"""Settings come from LABELOPS_ONTOLOGY_* and refuse what would fail later, at startup."""

from __future__ import annotations

import os

import pytest
from labelops_ontology.application.handlers import Limits
from labelops_ontology.config import Settings
from pydantic import ValidationError


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in os.environ:
        if name.startswith("LABELOPS_ONTOLOGY_"):
            monkeypatch.delenv(name)


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert (s.db_schema, s.service_name, s.port, s.max_message_bytes) == (
        "ontology",
        "ontology",
        50051,
        16 * 1024 * 1024,
    )
    assert (s.migrations_dir / "0001_read_models.sql").is_file()
    monkeypatch.setenv("LABELOPS_ONTOLOGY_SCHEMA", "ontology_eu")
    monkeypatch.setenv("LABELOPS_ONTOLOGY_PORT", "6001")
    monkeypatch.setenv("LABELOPS_ONTOLOGY_KAFKA_BOOTSTRAP", "kafka:19092")
    s = Settings()
    assert (s.db_schema, s.port, s.kafka_bootstrap) == ("ontology_eu", 6001, "kafka:19092")
    assert Settings(db_schema="t_abc").db_schema == "t_abc"


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("LABELOPS_ONTOLOGY_SCHEMA", "Robert'); DROP"),
        ("LABELOPS_ONTOLOGY_PORT", "70000"),
        ("LABELOPS_ONTOLOGY_MIGRATIONS_DIR", "/nonexistent"),
        ("LABELOPS_ONTOLOGY_MAX_EVENT_BYTES", "1000"),
    ],
)
def test_settings_refuse_bad_values(monkeypatch: pytest.MonkeyPatch, env: str, value: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError):
        Settings()


def test_drafts_leave_room_for_the_changes_in_a_publication() -> None:
    assert Limits.for_event_bytes(1_000_000) == Limits(1_000_000, 750_000)
