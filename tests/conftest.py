"""Fixtures shared by every test layer.

Services are real: PostgreSQL when DATABASE_URL is set (a fresh database is
created for the session and dropped after), otherwise SQLite on disk; Redis
from REDIS_URL, else the server on 127.0.0.1:6379, else a private
redis-server started for the session. Nothing is skipped when a service is
missing: the fixture fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from services.config import Config
from services.storage import keys
from services.storage.db import make_engine, make_sessionmaker, session_scope
from services.storage.scratch import scratch_database
from services.supervisor import LOCAL_REDIS, free_port, redis_answers, start_redis

# Database numbers tests may use; 0 is left to the service itself.
REDIS_TEST_DBS = range(1, 16)
CLAIM_KEY = "ingest-test-session"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the `model` tests unless the -m expression names them (make test-model)."""
    if "model" in (config.option.markexpr or ""):
        return
    model = [item for item in items if item.get_closest_marker("model") is not None]
    if model:
        config.hook.pytest_deselected(items=model)
        items[:] = [item for item in items if item.get_closest_marker("model") is None]


@pytest.fixture(scope="session", autouse=True)
def metrics_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Put Prometheus in multiprocess mode, as the supervisor does, before any metric exists."""
    path = tmp_path_factory.mktemp("prometheus")
    previous = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = previous


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield the URL of a Redis server (without a database number)."""
    url = os.environ.get("REDIS_URL") or LOCAL_REDIS
    if redis_answers(url):
        yield url.rsplit("/", 1)[0] if url.count("/") > 2 else url
        return
    port = free_port()
    process = start_redis(tmp_path_factory.mktemp("redis"), port)
    yield f"redis://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="session")
def redis_url(redis_server: str) -> Iterator[str]:
    """Yield a Redis URL on a database number this test session owns, flushed before and after.

    Concurrent test sessions on one server each claim their own database
    number, so one session's worker never takes another session's tasks.
    """
    token = uuid.uuid4().hex
    for number in REDIS_TEST_DBS:
        client = redis.Redis.from_url(f"{redis_server}/{number}")
        if client.set(CLAIM_KEY, token, nx=True, ex=6 * 3600):
            break
        client.close()
    else:
        raise RuntimeError(f"every Redis database in {REDIS_TEST_DBS} is claimed by a test session")
    client.flushdb()
    client.set(CLAIM_KEY, token, ex=6 * 3600)
    yield f"{redis_server}/{number}"
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield the URL of a freshly migrated database, removed after the session."""
    base = os.environ.get("DATABASE_URL")
    with scratch_database(base, tmp_path_factory.mktemp("db"), "ingest_test") as url:
        yield url


@pytest.fixture(scope="session")
def config(database_url: str, redis_url: str) -> Config:
    """Yield the service configuration the integration tests share."""
    return Config.from_env(
        {},
        database_url=database_url,
        redis_url=redis_url,
        sweep_unsent_after_seconds=0,
        # Tests poll the API many times a second; test_auth checks the limiter.
        rate_limit="100000/minute",
        auth_failure_limit="100000/minute",
        # The webhook receivers of the tests listen on loopback.
        webhook_allowed_networks="127.0.0.0/8",
    )


@pytest.fixture(scope="session")
def api_token(database_url: str) -> str:
    """Return the token of a real API key with every scope, stored in the test database."""
    engine = make_engine(database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            return keys.create(session, "tests", keys.SCOPES).token
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def auth_headers(api_token: str) -> dict[str, str]:
    """Return the headers that authenticate as the tests' key."""
    return {"Authorization": f"Bearer {api_token}"}


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "seeds"
