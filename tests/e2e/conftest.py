"""End-to-end fixtures: a database and a broker of a module's own.

Tests that stop the broker or the database, fuzz the API or measure a soak
get services nobody else in the session uses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from services.config import Config
from services.storage.scratch import scratch_database
from services.supervisor import free_port, start, start_redis
from tests.helpers import ready, wait_for


@pytest.fixture(scope="module")
def private_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield a migrated database for one module (PostgreSQL when DATABASE_URL is set)."""
    base = os.environ.get("DATABASE_URL")
    with scratch_database(base, tmp_path_factory.mktemp("private-db"), "ingest_private") as url:
        yield url


@pytest.fixture(scope="module")
def private_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield the URL of a redis-server for one module."""
    port = free_port()
    process = start_redis(tmp_path_factory.mktemp("private-redis"), port)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


@contextmanager
def serve(config: Config, **settings: str) -> Iterator[str]:
    """Run the whole service (gunicorn, worker) on the config's stores; yield the API's URL."""
    port = free_port()
    environ = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": config.database_url,
        "REDIS_URL": config.redis_url,
        **settings,
    }
    stack, _ = start(port=port, flower_port=None, concurrency=2, api_workers=2, environ=environ)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: ready(url), timeout=60, interval=0.2)
        yield url
    finally:
        stack.stop()
