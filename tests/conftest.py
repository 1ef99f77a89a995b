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
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from services.config import Config
from services.storage.migrate import upgrade
from services.supervisor import LOCAL_REDIS, free_port, redis_answers, start_redis

REDIS_TEST_DB = 13


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
    """Yield a Redis URL on the test database number, flushed after the session."""
    url = f"{redis_server}/{REDIS_TEST_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield the URL of a freshly migrated database, removed after the session."""
    base = os.environ.get("DATABASE_URL")
    if not base:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'ingest.db'}"
        upgrade(url)
        yield url
        return
    name = f"ingest_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as connection:
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
    )


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "seeds"
