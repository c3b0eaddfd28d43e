"""The dashboard's place in the gateway: static files served at ``/dashboard``.

Not built yet (a later change adds it). Put the built files in ``static/`` next to this module
(``static/index.html`` is served at ``/dashboard/``); ``mount`` serves the folder once it
exists and does nothing before. The dashboard talks to the gateway's own routes (``/v1/...``
and the event stream) from the same origin, so it needs no CORS setting.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
MOUNT_PATH = "/dashboard"


def mount(app: FastAPI, static_dir: Path = STATIC_DIR) -> bool:
    """Serve ``static_dir`` at ``/dashboard`` if it exists; True when mounted."""
    if not static_dir.is_dir():
        return False
    app.mount(MOUNT_PATH, StaticFiles(directory=static_dir, html=True), name="dashboard")
    return True
