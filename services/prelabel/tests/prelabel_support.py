"""Helpers of the prelabel service tests: the events routing, QA and curation publish."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from labelops.curation.v1 import events_pb2 as cev
from labelops.events.v1 import envelope_pb2
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import events_pb2 as qev
from labelops.routing.v1 import events_pb2 as rev
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_testkit.kafka import envelope as bare_envelope
from sklearn.datasets import load_digits

#: The tenant of the tests' keys and of the events they publish; OTHER is the second tenant.
TENANT = "acme"
OTHER = "globex"
ENGINEER_KEY = "prelabel-engineer-key-0123456789"
MANAGER_KEY = "prelabel-manager-key-0123456789"
ANNOTATOR_KEY = "prelabel-annotator-key-0123456789"
VENDOR_KEY = "prelabel-vendor-key-0123456789"
SERVICE_KEY = "prelabel-service-key-0123456789"
OTHER_KEY = "prelabel-other-tenant-key-0123456789"
KEYS = {
    ENGINEER_KEY: {"subject": "mia", "tenant_id": TENANT, "roles": ["ml_engineer"]},
    MANAGER_KEY: {"subject": "max", "tenant_id": TENANT, "roles": ["manager"]},
    ANNOTATOR_KEY: {"subject": "ann", "tenant_id": TENANT, "roles": ["annotator"]},
    VENDOR_KEY: {"subject": "v", "tenant_id": TENANT, "kind": "vendor", "vendor_id": "v1"},
    SERVICE_KEY: {"subject": "qa", "tenant_id": TENANT, "kind": "service"},
    OTHER_KEY: {"subject": "bob", "tenant_id": OTHER, "roles": ["ml_engineer"]},
}
DIGITS = [f"d{i}" for i in range(10)]
SPACE = "pixels"


def envelope(message: Any, stream_id: str, tenant: str = TENANT) -> Any:
    """``message`` as its producer publishes it: in ``tenant``, caused by a user of it."""
    env = bare_envelope(message, stream_id)
    env.tenant_id = tenant
    env.actor.kind = envelope_pb2.ACTOR_KIND_USER
    env.actor.id = f"{tenant}-user"
    return env


def digits(n: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """``n`` of scikit-learn's digits (64 pixel values as the embedding) and their classes."""
    X, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(seed).permutation(len(X))[:n]
    return X[idx], [f"d{v}" for v in y[idx]]


def whole(item_id: str, cls: str) -> L.ItemLabels:
    return L.ItemLabels(
        item_id=item_id, labels=[L.Label(label_id="c", class_id=cls, whole_item=L.WholeItem())]
    )


def embedded(item_id: str, vector: Any, tenant: str = TENANT) -> Any:
    return envelope(
        cev.ItemEmbedded(
            dataset_id="ds", item_id=item_id, vector_space=SPACE, vector=[float(v) for v in vector]
        ),
        f"datasets/ds/items/{item_id}",
        tenant,
    )


def task_created(
    project_id: str, task_id: str, item_id: str, tenant: str = TENANT, **kw: Any
) -> Any:
    return envelope(
        rev.TaskCreated(
            project_id=project_id,
            task_id=task_id,
            item_id=item_id,
            item_uri=f"s3://bucket/{item_id}.png",
            modality="image",
            context=L.ItemContext(width=kw.pop("width", 64), height=kw.pop("height", 48)),
            required_labels=1,
            **kw,
        ),
        f"projects/{project_id}/tasks/{task_id}",
        tenant,
    )


def accepted(project_id: str, task_id: str, item_id: str, cls: str, tenant: str = TENANT) -> Any:
    return envelope(
        qev.LabelAccepted(
            project_id=project_id, task_id=task_id, item_id=item_id, labels=whole(item_id, cls)
        ),
        f"projects/{project_id}/tasks/{task_id}",
        tenant,
    )


OUTCOME = {
    None: wpb.PRELABEL_OUTCOME_NONE,
    "ACCEPTED": wpb.PRELABEL_OUTCOME_ACCEPTED,
    "EDITED": wpb.PRELABEL_OUTCOME_EDITED,
    "REPLACED": wpb.PRELABEL_OUTCOME_REPLACED,
}


def submitted(
    project_id: str,
    task_id: str,
    cls: str,
    seconds: float,
    outcome: str | None,
    tenant: str = TENANT,
) -> Any:
    item_id = f"item-{task_id}"
    return envelope(
        rev.LabelSubmitted(
            project_id=project_id,
            task_id=task_id,
            item_id=item_id,
            assignment_id=f"a-{task_id}",
            annotator_id="ann",
            labels=whole(item_id, cls),
            time_spent_ms=int(seconds * 1000),
            prelabel_outcome=OUTCOME[outcome],
            required_labels=1,
            labels_submitted=1,
            task_labeled=True,
        ),
        f"projects/{project_id}/tasks/{task_id}",
        tenant,
    )


async def until(
    check: Callable[[], Awaitable[Any]],
    predicate: Callable[[Any], Any] = bool,
    timeout: float = 60.0,
) -> Any:
    """Await ``check()`` until ``predicate`` holds for its value; return that value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if predicate(value):
            return value
        if loop.time() > deadline:
            size = f"{len(value)} items: " if isinstance(value, list) else ""
            raise AssertionError(
                f"condition not met within {timeout}s (last: {size}{value!r:.300})"
            )
        await asyncio.sleep(0.1)


class Canary:
    """A TCP listener on 127.0.0.1 that counts every connection made to it: any request at
    all, whatever its path or method, would have to connect first."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def __enter__(self) -> Canary:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
