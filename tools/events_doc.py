"""docs/events.md's catalogue: the consumers column comes from the services' dispatch tables.

Every service declares what it consumes once, in ``entrypoints/consumers.py`` (``@handles``
rows of an ``EventHandlers`` class, each with a ``why``). This tool writes those rows into the
catalogue's last column, so the document cannot drift from the code; tests/test_events_doc.py
fails when it has::

    python tools/events_doc.py          # check: exit 1 and a diff when the doc is stale
    python tools/events_doc.py --write  # rewrite the consumers column

It imports the services (a tool, not a lib: libs never import services).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
import sys
from collections import defaultdict
from pathlib import Path

from labelops_bus.dispatch import EventHandlers, handled_events

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "events.md"
SERVICES = ("ontology", "curation", "routing", "prelabel", "qa", "datasets")
PRODUCERS = SERVICES
ROW = re.compile(r"^\| `(labelops\.[a-z]+\.v1\.[A-Za-z]+)` \|")
NONE = "none (internal tools subscribe to the topic)"


def consumers() -> dict[str, list[tuple[str, str]]]:
    """event type → [(consuming service, why)], from every service's dispatch table."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for svc in SERVICES:
        try:
            module = importlib.import_module(f"labelops_{svc}.entrypoints.consumers")
        except ModuleNotFoundError as exc:
            if exc.name != f"labelops_{svc}.entrypoints.consumers":
                raise
            continue  # a service that consumes nothing has no consumers module
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, EventHandlers) and cls.__module__ == module.__name__:
                for row in handled_events(cls):
                    out[row.type_name].append((svc, row.why))
    return out


def event_types() -> list[str]:
    """Every event message of every producer (``labelops/<service>/v1/events.proto``)."""
    names = []
    for svc in PRODUCERS:
        module = importlib.import_module(f"labelops.{svc}.v1.events_pb2")
        messages = list(module.DESCRIPTOR.message_types_by_name.values())
        # A message only used inside other events of the file (qa's Lineage) is a part of an
        # event, not one.
        parts = {f.message_type.full_name for m in messages for f in m.fields if f.message_type}
        names += [m.full_name for m in messages if m.full_name not in parts]
    return names


def cell(rows: list[tuple[str, str]]) -> str:
    if not rows:
        return NONE
    by_service: dict[str, list[str]] = defaultdict(list)
    for svc, why in rows:
        if why not in by_service[svc]:
            by_service[svc].append(why)
    return "; ".join(f"{svc} ({', '.join(whys)})" for svc, whys in sorted(by_service.items()))


def render(text: str) -> str:
    """``text`` with every catalogue row's consumers cell generated."""
    table = consumers()
    out = []
    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            cells = line.split(" | ")
            cells[-1] = f"{cell(table.get(m.group(1), []))} |"
            line = " | ".join(cells)
        out.append(line)
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def documented(text: str) -> list[str]:
    return [m.group(1) for line in text.splitlines() if (m := ROW.match(line))]


def main(argv: list[str]) -> int:
    text = DOC.read_text()
    new = render(text)
    if "--write" in argv:
        DOC.write_text(new)
        return 0
    if new != text:
        sys.stdout.writelines(
            difflib.unified_diff(
                text.splitlines(True), new.splitlines(True), "docs/events.md", "generated"
            )
        )
        print("docs/events.md is stale: run python tools/events_doc.py --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
