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
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from services.config import Config
from services.storage import keys
from services.storage.db import make_engine, make_sessionmaker, session_scope
from services.storage.migrate import upgrade
from services.supervisor import LOCAL_REDIS, free_port, redis_answers, start_redis

# Database numbers tests may use; 0 is left to the service itself.
REDIS_TEST_DBS = range(1, 16)
CLAIM_KEY = "ingest-test-session"


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
    with scratch_database(tmp_path_factory.mktemp("db"), "ingest_test") as url:
        yield url


@contextmanager
def scratch_database(directory: Path, prefix: str) -> Iterator[str]:
    """Yield a new migrated database: on DATABASE_URL's server if set, else SQLite in directory.

    A PostgreSQL database is dropped after, even while it refuses connections.
    """
    base = os.environ.get("DATABASE_URL")
    if not base:
        url = f"sqlite:///{directory / 'ingest.db'}"
        upgrade(url)
        yield url
        return
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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
