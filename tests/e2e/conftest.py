"""End-to-end fixtures: a database and a broker of a module's own.

Tests that stop the broker or the database, fuzz the API or measure a soak
get services nobody else in the session uses.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from services.storage.migrate import upgrade
from services.supervisor import free_port, start_redis


@pytest.fixture(scope="module")
def private_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield a migrated database for one module (PostgreSQL when DATABASE_URL is set)."""
    base = os.environ.get("DATABASE_URL")
    if not base:
        url = f"sqlite:///{tmp_path_factory.mktemp('private-db') / 'ingest.db'}"
        upgrade(url)
        yield url
        return
    name = f"ingest_private_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def private_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield the URL of a redis-server for one module."""
    port = free_port()
    process = start_redis(tmp_path_factory.mktemp("private-redis"), port)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)
