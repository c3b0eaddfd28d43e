"""The layout rules of the house, checked by ``make lint`` and tests/test_layout.py.

- no module of ``services/`` or ``libs/`` over ``MAX_MODULE_LINES`` lines and no function over
  ``MAX_FUNCTION_LINES`` (generated protobuf code aside), unless the module's first lines or
  the lines just above the ``def`` carry a ``# layout: <why it must stay whole>`` comment;
- ``libs/*/tests`` import no service and not the demo (import-linter sees installed packages
  only, so tests are checked here).

``python tools/layout.py`` prints every violation and exits 1 when there is one.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
MARK = "# layout:"
SERVICES = ("ontology", "curation", "routing", "qa", "datasets", "prelabel", "gateway")
FORBIDDEN_IN_LIB_TESTS = (*(f"labelops_{s}" for s in SERVICES), "labelops_demo")


def source_files() -> Iterator[Path]:
    for top in ("services", "libs"):
        for p in sorted((ROOT / top).rglob("*.py")):
            rel = p.relative_to(ROOT).as_posix()
            if rel.startswith("libs/proto/") or "/tests/" in rel or "/build/" in rel:
                continue
            yield p


def _marked(lines: list[str], before: int) -> bool:
    """A ``# layout:`` comment in the comment / decorator block just above line ``before``."""
    i = before - 2
    while i >= 0 and (lines[i].strip().startswith(("#", "@")) or not lines[i].strip()):
        if lines[i].strip().startswith(MARK):
            return True
        if not lines[i].strip():
            break
        i -= 1
    return False


def size_violations(path: Path) -> list[str]:
    text = path.read_text()
    lines = text.splitlines()
    rel = path.relative_to(ROOT).as_posix()
    out = []
    if len(lines) > MAX_MODULE_LINES and not any(ln.startswith(MARK) for ln in lines[:30]):
        out.append(f"{rel}: {len(lines)} lines (> {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            if n > MAX_FUNCTION_LINES and not _marked(lines, first):
                out.append(f"{rel}:{node.lineno}: {node.name}: {n} lines (> {MAX_FUNCTION_LINES})")
    return out


def lib_test_import_violations() -> list[str]:
    out = []
    for p in sorted((ROOT / "libs").glob("*/tests/**/*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                if n.split(".")[0] in FORBIDDEN_IN_LIB_TESTS:
                    rel = p.relative_to(ROOT).as_posix()
                    out.append(f"{rel}:{node.lineno}: a lib's test imports {n}")
    return out


def violations() -> list[str]:
    out = [v for p in source_files() for v in size_violations(p)]
    return out + lib_test_import_violations()


if __name__ == "__main__":
    found = violations()
    print("\n".join(found) or "layout: ok")
    sys.exit(1 if found else 0)
