"""Imports run one way.

The rules: `services/pipeline/` does no I/O and imports no web, queue or
database framework, nor the storage or the API; and `services` never imports
`workers` (the workers import the services, which hold the queue's sending
side in `services/queue.py`).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "services" / "pipeline"
FORBIDDEN = {
    "flask",
    "flask_smorest",
    "celery",
    "kombu",
    "sqlalchemy",
    "redis",
    "requests",
    "services.storage",
    "services.api",
    "workers",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_pipeline_modules_import_no_framework() -> None:
    modules = sorted(PIPELINE.rglob("*.py"))
    assert modules, "no pipeline modules found"
    for module in modules:
        for name in _imports(module):
            root_matches = {f for f in FORBIDDEN if _within(name, f)}
            assert not root_matches, f"{module.name} imports {name}"


def test_services_never_import_workers() -> None:
    modules = sorted((ROOT / "services").rglob("*.py"))
    assert modules, "no service modules found"
    for module in modules:
        for name in _imports(module):
            assert not _within(name, "workers"), f"{module.relative_to(ROOT)} imports {name}"
