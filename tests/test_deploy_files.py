"""The container files: one image for every service, and docker-compose.yml running each from it.

No Docker engine here (nor in CI), so the files are checked as data: what they name must exist.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("ontology", "curation", "routing", "qa", "datasets", "prelabel", "gateway")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_one_dockerfile_serves_every_service() -> None:
    assert not list((ROOT / "services").glob("*/Dockerfile*"))
    text = (ROOT / "Dockerfile").read_text()
    assert "USER 10001" in text and "HEALTHCHECK" in text
    assert 'python -m \\"labelops_${LABELOPS_SERVICE}\\"' in text
    # Every directory the image's pip install reads is copied in.
    pyproject = (ROOT / "pyproject.toml").read_text()
    src_roots = re.findall(r'"((?:libs|services|demo)/[^"]+/src)"', pyproject)
    roots = {p.split("/")[0] for p in src_roots}
    copied = set(re.findall(r"^COPY (\w+)/ ", text, re.M))
    assert roots <= copied


def test_compose_runs_every_service_from_the_one_image() -> None:
    services = compose()["services"]
    for name in SERVICES:
        svc = services[name]
        assert svc["build"] == {"context": ".", "dockerfile": "Dockerfile"}
        assert svc["image"] == "labelops/labelops:dev"
        env = svc["environment"]
        assert env["LABELOPS_SERVICE"] == name
        assert importlib.util.find_spec(f"labelops_{name}.__main__") is not None
        # Settings of a service use its own prefix: a typo would be ignored silently.
        for key in env:
            if key.startswith("LABELOPS_") and key not in ("LABELOPS_SERVICE", "LABELOPS_API_KEYS"):
                assert key.startswith(f"LABELOPS_{name.upper()}_"), (name, key)
