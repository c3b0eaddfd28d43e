"""docs/security.md's tables come from the code: the roles x actions table
(``labelops_core.authz.ROLE_ACTIONS``), every service's method -> action table
(``labelops_<svc>.entrypoints.access.METHOD_ACTIONS``, plus the scaffold's own services) and the
gateway's route -> action table (``labelops_gateway...ROUTE_ACTIONS``). Everything between the
``<!-- generated:NAME -->`` and ``<!-- end:NAME -->`` markers is rewritten; the prose around
them is the doc's own. tests/test_security_doc.py fails when the doc has drifted::

    python tools/security_doc.py          # check: exit 1 and a diff when the doc is stale
    python tools/security_doc.py --write  # rewrite the generated tables

It imports the services (a tool, not a lib: libs never import services).
"""

from __future__ import annotations

import difflib
import importlib
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from labelops_core.authz import ROLE_ACTIONS, ROLES, Action, roles_allowing

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "security.md"
SERVICES = ("ontology", "curation", "routing", "prelabel", "qa", "datasets")
BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- end:(?P=name) -->)", re.S
)


def service_tables() -> dict[str, Mapping[str, Action]]:
    """service -> its full method name -> Action table (services without one are left out)."""
    out: dict[str, Mapping[str, Action]] = {}
    for svc in SERVICES:
        try:
            module = importlib.import_module(f"labelops_{svc}.entrypoints.access")
        except ModuleNotFoundError as exc:
            if exc.name != f"labelops_{svc}.entrypoints.access":
                raise
            continue
        out[svc] = module.METHOD_ACTIONS
    return out


def kit_tables() -> dict[str, Mapping[str, Action]]:
    """The services every process mounts (event log, credentials), from the libs."""
    out: dict[str, Mapping[str, Action]] = {}
    from labelops_eventstore.grpc_api import EVENTLOG_METHOD_ACTIONS

    out["every service: event log"] = EVENTLOG_METHOD_ACTIONS
    try:
        kit = importlib.import_module("labelops_servicekit.credentials")
    except ModuleNotFoundError:
        return out
    table = getattr(kit, "CREDENTIAL_METHOD_ACTIONS", None)
    if table:
        out["every service: credentials"] = table
    return out


def gateway_table() -> Mapping[tuple[str, str], Action] | None:
    for name in ("labelops_gateway.entrypoints.access", "labelops_gateway.access"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        table = getattr(module, "ROUTE_ACTIONS", None)
        if table is not None:
            return table
    return None


def _roles_cell(action: Action) -> str:
    return ", ".join(roles_allowing(action))


def render_roles() -> str:
    head = "| action | " + " | ".join(ROLES) + " |\n"
    head += "| --- |" + " :---: |" * len(ROLES) + "\n"
    rows = []
    for action in Action:
        marks = ["yes" if action in ROLE_ACTIONS[r] else "" for r in ROLES]
        rows.append(f"| `{action.value}` | " + " | ".join(marks) + " |")
    return head + "\n".join(rows) + "\n"


def _method_rows(table: Mapping[str, Action]) -> Iterable[str]:
    for method in sorted(table):
        service, _, name = method.strip("/").partition("/")
        short = service.rsplit(".", 1)[-1]
        action = table[method]
        yield f"| `{short}/{name}` | `{action.value}` | {_roles_cell(action)} |"


def render_methods() -> str:
    parts = []
    tables = {**service_tables(), **kit_tables()}
    for svc, table in tables.items():
        parts.append(f"**{svc}**\n\n| method | action | roles |\n| --- | --- | --- |")
        parts.append("\n".join(_method_rows(table)) + "\n")
    return "\n".join(parts)


def render_routes() -> str:
    table = gateway_table()
    if table is None:
        return "(the gateway has no route table yet)\n"
    rows = ["| route | action | roles |", "| --- | --- | --- |"]
    for (verb, path), action in sorted(table.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        rows.append(f"| `{verb} {path}` | `{action.value}` | {_roles_cell(action)} |")
    return "\n".join(rows) + "\n"


RENDERERS = {"roles": render_roles, "methods": render_methods, "routes": render_routes}


def render(text: str) -> str:
    def block(m: re.Match[str]) -> str:
        body = RENDERERS[m.group("name")]()
        return f"{m.group(1)}{body}{m.group(4)}"

    return BLOCK.sub(block, text)


def main(argv: list[str]) -> int:
    text = DOC.read_text()
    new = render(text)
    if "--write" in argv:
        DOC.write_text(new)
        return 0
    if new != text:
        sys.stdout.writelines(
            difflib.unified_diff(
                text.splitlines(True), new.splitlines(True), "docs/security.md", "generated"
            )
        )
        print("docs/security.md is stale: run python tools/security_doc.py --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
