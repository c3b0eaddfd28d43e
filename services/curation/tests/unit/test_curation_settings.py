"""Settings come from LABELOPS_CURATION_* (the shared fields of libs/servicekit plus the
curation service's own) and refuse what would fail later, at startup."""

from __future__ import annotations

import os

import pytest
from labelops_curation.config import ExternalEmbedder, Settings
from pydantic import ValidationError


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in os.environ:
        if name.startswith("LABELOPS_CURATION_"):
            monkeypatch.delenv(name)


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert (s.db_schema, s.service_name, s.port, s.default_timeout_s) == (
        "curation",
        "curation",
        50052,
        60.0,
    )
    assert (s.qdrant_url, s.file_roots, s.builtin_embedders) == (
        "",
        [],
        ["text-minilm-l6", "image-phash"],
    )
    assert (s.migrations_dir / "0001_read_models.sql").is_file()
    monkeypatch.setenv("LABELOPS_CURATION_SCHEMA", "curation_eu")
    monkeypatch.setenv("LABELOPS_CURATION_FILE_ROOTS", '["/data/images"]')
    monkeypatch.setenv(
        "LABELOPS_CURATION_EXTERNAL_EMBEDDERS",
        '{"clip": {"url": "http://clip:8000/embed", "dim": 512, "modalities": ["image", "text"]}}',
    )
    s = Settings()
    assert (s.db_schema, s.file_roots) == ("curation_eu", ["/data/images"])
    assert s.external_embedders == {
        "clip": ExternalEmbedder(
            url="http://clip:8000/embed", dim=512, modalities=["image", "text"]
        )
    }


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("LABELOPS_CURATION_SCHEMA", "Robert'); DROP"),
        ("LABELOPS_CURATION_PORT", "70000"),
        ("LABELOPS_CURATION_MIGRATIONS_DIR", "/nonexistent"),
        ("LABELOPS_CURATION_MAX_CONTENT_BYTES", "0"),
        ("LABELOPS_CURATION_EXTERNAL_EMBEDDERS", '{"clip": {"url": "http://x", "dim": 0}}'),
    ],
)
def test_settings_refuse_bad_values(monkeypatch: pytest.MonkeyPatch, env: str, value: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError):
        Settings()
