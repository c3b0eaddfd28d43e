"""The dashboard: its summary route over a labeled project, and the page rendered with that
data in headless Chromium (Debian's chromium package), checked in the DOM and the screenshot."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from gateway_support import ADMIN, ANSWERS, KEY, VENDOR, label_a_dataset, projected, served
from labelops.datasets.v1 import datasets_pb2 as dst
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops_demo.system import System
from labelops_grpckit import channel
from labelops_testkit.waiting import eventually
from PIL import Image
from starlette.types import ASGIApp, Receive, Scope, Send

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


async def chromium(*args: str) -> bytes:
    assert CHROMIUM is not None
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--virtual-time-budget=8000",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 0
    return out


def with_cookie(app: ASGIApp, cookie: str) -> ASGIApp:
    """``app`` with ``cookie`` as every request's cookie header (a browser's cookie jar)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(k, v) for k, v in scope["headers"] if k != b"cookie"]
            scope = {**scope, "headers": [*headers, (b"cookie", cookie.encode())]}
        await app(scope, receive, send)

    return wrapped


async def two_versions(system: System, name: str) -> None:
    async with channel(system.targets["datasets"], api_key=KEY) as ch:
        datasets = datasets_pb2_grpc.DatasetServiceStub(ch)

        async def create(n: int) -> bool:
            try:
                made = await datasets.CreateDatasetVersion(
                    dst.CreateDatasetVersionRequest(
                        dataset_id=name, project_id=name, cut=dst.Cut(latest=True), version=n
                    )
                )
            except Exception:
                return False
            return made.version.rows == len(ANSWERS)

        await eventually(lambda: create(1))
        await datasets.CreateDatasetVersion(
            dst.CreateDatasetVersionRequest(
                dataset_id=name,
                project_id=name,
                cut=dst.Cut(latest=True),
                version=2,
                filter=dst.Filter(class_ids=["cat"]),
            )
        )


async def test_summary_and_the_page_rendered_in_chromium(
    client: httpx.AsyncClient,
    gateway: FastAPI,
    system: System,
    unique_name: str,
    tmp_path: Path,
) -> None:
    name = await label_a_dataset(client, system, unique_name)
    tasks = (await client.get(f"/v1/projects/{name}/tasks", headers=ADMIN)).json()["tasks"]

    async def accepted() -> bool:
        for t in tasks:
            r = await client.get(f"/v1/projects/{name}/tasks/{t['task_id']}/quality", headers=ADMIN)
            if r.status_code != 200 or r.json()["task"]["state"] != "TASK_QUALITY_STATE_ACCEPTED":
                return False
        return True

    await eventually(accepted)
    await projected(system, name, len(ANSWERS))
    await two_versions(system, name)

    async def summary() -> dict | None:
        r = await client.get(
            "/v1/dashboard/summary",
            params={"project_id": name, "dataset_id": name},
            headers=ADMIN,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        return body if body["throughput"].get("tasks_labeled") == len(ANSWERS) else None

    s = await eventually(summary)
    assert [(q["pool_id"], q["kind"]) for q in s["queues"]] == [(name, "in_house")]
    assert [(q["no_eligible_annotator"], q["flags"]) for q in s["queues"]] == [(0, [])]
    assert [v["version"] for v in s["versions"]] == [1, 2]
    assert s["diff"] == {
        "from_version": 1,
        "to_version": 2,
        "added": 0,
        "removed": 1,
        "changed": 0,
        "unchanged": 1,
    }
    assert s["errors"] == [], s["errors"]
    # One label per task: QA counts the items, but there is no pair of labels to agree.
    assert s["agreement"]["items"] == len(ANSWERS)
    assert (await client.get("/v1/dashboard/summary")).status_code == 401
    assert (await client.get("/v1/dashboard/summary", headers=VENDOR)).status_code == 403

    if CHROMIUM is None:
        # CI installs Debian's chromium (.ci/run): there, a missing browser is a failure.
        assert not os.environ.get("CI"), "chromium is missing on CI"
        pytest.skip("chromium is not installed (apt-get install chromium)")
    # Log in as the page's form does; the browser then sends only the cookie it got (the
    # wrapper plays its cookie jar: headless chromium cannot type into the form).
    login = await client.post("/v1/session", json={"api_key": KEY})
    assert login.status_code == 200 and "httponly" in login.headers["set-cookie"].lower()
    session = login.cookies["labelops_session"]
    async with served(with_cookie(gateway, f"labelops_session={session}")) as base:
        url = f"{base}/dashboard/?project={name}&dataset={name}"
        dom = (await chromium("--dump-dom", url)).decode()
        shot = tmp_path / "dashboard.png"
        await chromium("--window-size=1280,1000", f"--screenshot={shot}", url)

    # The page loaded the summary and drew it: the pool's bar, both versions, the diff.
    assert 'data-loaded="true"' in dom
    assert f"{name} (in_house)" in dom
    assert "+0 -1 ~0" in dom and "diff v1→v2" in dom
    assert dom.count("<tr>") >= 3  # versions table: header + 2 rows
    assert "tasks labeled" in dom and f"{len(ANSWERS)} / {len(ANSWERS)}" in dom
    # And it is on screen: a real picture, not a blank page.
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1000)
    colors = image.getcolors(maxcolors=1 << 20) or []
    assert len(colors) > 50
    dark = sum(n for n, (r, g, b) in colors if r + g + b < 200)
    assert dark > 2000  # the header bar and text
