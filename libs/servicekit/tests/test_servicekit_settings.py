"""ServiceSettings: the shared fields, their environment names and defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from labelops.ontology.v1 import ontology_pb2_grpc
from labelops_servicekit import Port, ServiceName, Servicer, ServiceSettings, service_config
from pydantic import ValidationError

TOY_MIGRATIONS = Path(__file__).parent / "toy_migrations"


class ToySettings(ServiceSettings):
    model_config = service_config("toy")
    service_name: ServiceName = "toy"
    port: Port = 50999
    migrations_dir: Path = TOY_MIGRATIONS


def test_fields_come_from_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELOPS_TOY_PG_DSN", "postgresql://x@h:1/d")
    monkeypatch.setenv("LABELOPS_TOY_PORT", "51000")
    monkeypatch.setenv("LABELOPS_TOY_CURATION_TOPIC", "custom.curation")
    monkeypatch.setenv("LABELOPS_OTHER_PORT", "1")
    s = ToySettings()
    assert (s.pg_dsn, s.port) == ("postgresql://x@h:1/d", 51000)
    assert s.topic_of("curation") == "custom.curation"
    assert s.topic_of("qa") == "labelops.qa.events.v1"
    assert s.topic_of("unknown") == "labelops.unknown.events.v1"


def test_the_schema_defaults_to_the_service_and_reads_its_env_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ToySettings().db_schema == "toy"
    # A unique service name (tests) does not move the schema.
    assert ToySettings(service_name="t123").db_schema == "toy"
    assert ToySettings(db_schema="t_abc").db_schema == "t_abc"
    monkeypatch.setenv("LABELOPS_TOY_SCHEMA", "from_env")
    assert ToySettings().db_schema == "from_env"
    assert ToySettings(db_schema="explicit").db_schema == "explicit"
    monkeypatch.setenv("LABELOPS_TOY_SCHEMA", "Bad!")
    with pytest.raises(ValidationError, match="LABELOPS_TOY_SCHEMA='Bad!' is not a schema name"):
        ToySettings()


@pytest.mark.parametrize(
    "field,value",
    [("db_schema", 'x"; DROP TABLE y'), ("service_name", "Bad Name"), ("port", 70000)],
)
def test_bad_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        ToySettings(**{field: value})


def test_a_missing_migrations_dir_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="LABELOPS_TOY_MIGRATIONS_DIR"):
        ToySettings(migrations_dir=tmp_path)


def test_the_default_migrations_dir_falls_back_to_labelops_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Installed(ServiceSettings):  # defined here: no migrations/ next to this module's src
        model_config = service_config("inst")
        service_name: ServiceName = "inst"

    (tmp_path / "services/inst/migrations").mkdir(parents=True)
    (tmp_path / "services/inst/migrations/0001_read_models.sql").write_text("SELECT 1;")
    monkeypatch.setenv("LABELOPS_HOME", str(tmp_path))
    assert Installed().migrations_dir == tmp_path / "services/inst/migrations"


def test_a_service_must_name_itself() -> None:
    class Nameless(ServiceSettings):
        model_config = service_config("nameless")

    with pytest.raises(TypeError, match="service_name"):
        Nameless()


def test_servicer_names_its_proto_service() -> None:
    s = Servicer(ontology_pb2_grpc.add_OntologyServiceServicer_to_server, object())
    assert s.service_name == "labelops.ontology.v1.OntologyService"
