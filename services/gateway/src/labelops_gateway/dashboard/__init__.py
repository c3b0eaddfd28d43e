"""The dashboard: static files served at ``/dashboard`` and the summary route they read.

``static/`` holds a dependency-free page (HTML, CSS, JS drawing SVG charts): it polls
``GET /v1/dashboard/summary`` (``summary.py``) and follows ``/v1/events/stream`` for live label
events, from the same origin, so it needs no CORS setting. The page logs in with a form that
posts the API key to ``POST /v1/session``; the gateway sets it as an HttpOnly,
SameSite=Strict cookie that the page's requests carry. A key is never taken from the URL
(``?key=`` landed in access logs); the page drops one it finds there.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
MOUNT_PATH = "/dashboard"


def mount(app: FastAPI, static_dir: Path = STATIC_DIR) -> bool:
    """Serve ``static_dir`` at ``/dashboard`` if it exists; True when mounted. (The summary
    route it reads is ``summary.router``, included by the app factory.)"""
    if not static_dir.is_dir():
        return False
    app.mount(MOUNT_PATH, StaticFiles(directory=static_dir, html=True), name="dashboard")
    return True
