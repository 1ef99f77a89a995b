"""End-to-end fixtures: a database and a broker of a module's own.

Tests that stop the broker or the database, fuzz the API or measure a soak
get services nobody else in the session uses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from services.supervisor import free_port, start_redis
from tests.conftest import scratch_database


@pytest.fixture(scope="module")
def private_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield a migrated database for one module (PostgreSQL when DATABASE_URL is set)."""
    with scratch_database(tmp_path_factory.mktemp("private-db"), "ingest_private") as url:
        yield url


@pytest.fixture(scope="module")
def private_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield the URL of a redis-server for one module."""
    port = free_port()
    process = start_redis(tmp_path_factory.mktemp("private-redis"), port)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


def wait_ready(url: str, timeout: float = 60) -> None:
    """Wait until the API at `url` answers /readyz with 200; fail loudly otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError("the API did not become ready")
