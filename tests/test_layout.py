"""The house rules `make lint` enforces, and proof that the checks catch what they claim.

- tools/layout.py: module and function sizes, libs' tests free of services;
- import-linter (pyproject.toml [tool.importlinter]): services independent, libs free of
  services and the demo, domain/ free of I/O libraries, layers entrypoints → application →
  adapters → domain. A deliberate violation of each contract (shadow packages put first on the
  path) must make `lint-imports` fail and name the contract.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import layout  # noqa: E402


def lint_imports(pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = f"{pythonpath}{os.pathsep}{env.get('PYTHONPATH', '')}"
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [str(exe)] if exe.exists() else ["lint-imports"]
    return subprocess.run(
        [*cmd, str(ROOT / "pyproject.toml"), "--no-cache", "--no-logo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_tree_keeps_the_size_and_test_import_rules() -> None:
    assert layout.violations() == []


def test_the_size_check_flags_long_modules_and_functions(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(90))
    f = tmp_path / "m.py"
    f.write_text(f"def long():\n{body}\n\n\n# layout: one table, kept whole\ndef ok():\n{body}\n")
    old = layout.ROOT
    layout.ROOT = tmp_path
    try:
        found = layout.size_violations(f)
    finally:
        layout.ROOT = old
    assert found == ["m.py:1: long: 91 lines (> 80)"]


def test_the_import_contracts_hold_on_the_tree() -> None:
    r = lint_imports()
    assert r.returncode == 0, r.stdout + r.stderr


def _package(root: Path, name: str, files: dict[str, str]) -> None:
    for rel, code in {"__init__.py": "", **files}.items():
        p = root / name / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(code))
        for parent in p.relative_to(root).parents:
            init = root / parent / "__init__.py"
            if parent != Path(".") and not init.exists():
                init.write_text("")


def test_a_deliberate_violation_of_each_contract_fails_lint(tmp_path: Path) -> None:
    # A shadow qa service that breaks the service rules, and a shadow lib importing the demo.
    _package(
        tmp_path,
        "labelops_qa",
        {
            "entrypoints/__init__.py": "",
            "application/__init__.py": "",
            "adapters/store.py": "import labelops_routing\n",
            "domain/rules.py": "import asyncpg\nfrom ..adapters import store\n",
        },
    )
    _package(tmp_path, "labelops_client", {"report.py": "import labelops_demo\n"})
    r = lint_imports(tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    for contract in (
        "services never import each other (they talk over gRPC and Kafka) BROKEN",
        "libs never import a service or the demo BROKEN",
        "domain/ decides: it imports no I/O library BROKEN",
        "service layers: entrypoints → application → adapters → domain BROKEN",
    ):
        assert contract in out, out
    assert "labelops_qa.domain.rules -> asyncpg" in out
