"""The declared runtime dependencies match what the code imports.

Every distribution that services/, workers/ or schemas/ import is named in
requirements.in and pinned in requirements.txt; every name in
requirements.in is imported, or is in `USED_WITHOUT_IMPORT` with the reason.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("services", "workers", "schemas")

# Import name -> distribution name, where the two differ.
DISTRIBUTIONS = {
    "flask_limiter": "flask-limiter",
    "flask_smorest": "flask-smorest",
    "swagger_ui_bundle": "swagger-ui-bundle",
    "prometheus_client": "prometheus-client",
    "lxml_html_clean": "lxml-html-clean",
}
USED_WITHOUT_IMPORT = {
    "gunicorn": "serves the API (Dockerfile, docker-compose.yml)",
    "flower": "the queue dashboard, `celery flower` (docker-compose.yml)",
    "psycopg": "SQLAlchemy's PostgreSQL driver, named in DATABASE_URL",
    "lxml-html-clean": "trafilatura's HTML cleaner, which trafilatura does not declare",
}
# Imported only on demand by the optional embedding backend (requirements-model.txt).
OPTIONAL = {"sentence-transformers"}


def _name(requirement: str) -> str:
    """Return a requirement's distribution name, normalised (PEP 503)."""
    bare = re.split(r"[\[=<>!~;\s]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()


def _declared(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {_name(line) for line in lines if line.strip() and not line.startswith("#")}


def _imported() -> set[str]:
    found: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module.split(".")[0])
    ours = {*PACKAGES, "__future__"}
    return {
        _name(DISTRIBUTIONS.get(name, name))
        for name in found
        if name not in sys.stdlib_module_names and name not in ours
    }


def test_every_import_is_a_declared_dependency() -> None:
    missing = _imported() - OPTIONAL - _declared(ROOT / "requirements.in")
    assert not missing, f"imported but not in requirements.in: {sorted(missing)}"


def test_every_declared_dependency_is_imported_or_explained() -> None:
    unused = _declared(ROOT / "requirements.in") - _imported() - set(USED_WITHOUT_IMPORT)
    assert not unused, f"in requirements.in but never imported: {sorted(unused)}"


def test_every_declared_dependency_is_pinned() -> None:
    unpinned = _declared(ROOT / "requirements.in") - _declared(ROOT / "requirements.txt")
    assert not unpinned, f"in requirements.in but not pinned: {sorted(unpinned)}"


def test_optional_imports_are_in_the_model_requirements() -> None:
    assert _declared(ROOT / "requirements-model.txt") >= OPTIONAL
