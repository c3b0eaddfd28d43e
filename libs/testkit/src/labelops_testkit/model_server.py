"""A real local HTTP model server speaking MODEL_SERVER_PROTOCOL.md, for tests.

A threaded ``http.server`` on 127.0.0.1 with an ephemeral port. Tests script its replies
(status, body, delay) through ``script`` or replace ``respond``; by default it answers like a
well-behaved model (``well_behaved``). ``running()`` starts one and stops it, releasing handlers
that were told to hang.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: ``body`` is JSON-encoded unless it is bytes."""

    status: int = 200
    body: Any = None
    delay: float = 0.0
    content_length: bool = True
    headers: dict[str, str] = field(default_factory=dict)


def well_behaved(request: dict[str, Any]) -> Reply:
    """What a correct model answers: probabilities summing to 1, geometry inside the item."""
    classes = request["classes"]
    rest = 0.3 / max(1, len(classes) - 1)
    preds = []
    for item in request["items"]:
        probs = {c: (0.7 if i == 0 else rest) for i, c in enumerate(classes)}
        if request["task"] == "classify":
            labels: list[dict[str, Any]] = [{"class_id": classes[0], "confidence": 0.7}]
        else:
            w, h = item["width"], item["height"]
            labels = [
                {
                    "class_id": classes[0],
                    "confidence": 0.9,
                    "box": {"x": 0.1 * w, "y": 0.1 * h, "width": 0.5 * w, "height": 0.9 * h},
                },
                # Touching the right and bottom edges exactly is inside.
                {"class_id": classes[1], "box": {"x": 0, "y": 0, "width": w, "height": h}},
            ]
        preds.append({"item_id": item["item_id"], "class_probabilities": probs, "labels": labels})
    return Reply(body={"model_version": f"{request['model']}@7", "predictions": preds})


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        self.script: list[Reply] = []
        self.respond: Callable[[dict[str, Any]], Reply] = well_behaved
        self.release = threading.Event()  # set at teardown: hanging handlers stop waiting
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.requests)

    def next_reply(self, request: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(request)
            self.headers_seen.append(headers)
            scripted = self.script.pop(0) if self.script else None
        return scripted if scripted is not None else self.respond(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that gave up (timeouts) make writes fail; that is the point


class Handler(BaseHTTPRequestHandler):
    server: ModelServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/predict":
            self._send(Reply(status=404, body={"error": f"no route {self.path}"}))
            return
        reply = self.server.next_reply(json.loads(raw), dict(self.headers.items()))
        if reply.delay:
            self.server.release.wait(reply.delay)
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        if reply.content_length:
            self.send_header("Content-Length", str(len(body)))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def running() -> Iterator[ModelServer]:
    """A started ``ModelServer``; shut down (hanging replies released) on exit."""
    srv = ModelServer()
    threading.Thread(target=srv.serve_forever, args=(0.01,), daemon=True).start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
