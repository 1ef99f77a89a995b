"""Throwaway databases and a Redis database number for one run, removed after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from services.storage.migrate import upgrade
from services.supervisor import free_port, redis_answers, start_redis

# The tests use 13; the service's default is 0.
BENCH_REDIS_DB = 12


@contextmanager
def fresh_database(base_url: str | None, directory: Path, name: str) -> Iterator[str]:
    """Yield the URL of a new, migrated database; drop it after.

    Without a base URL, a SQLite file in `directory`. With one (PostgreSQL),
    a database created next to it, as tests/conftest.py does.
    """
    if not base_url:
        url = f"sqlite:///{directory / f'{name}.db'}"
        upgrade(url)
        yield url
        return
    database = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    url = make_url(base_url).set(database=database).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def redis_database(base_url: str | None, directory: Path) -> Iterator[str]:
    """Yield a Redis URL on the bench's database number, flushed before and after.

    REDIS_URL's server if given; otherwise a private redis-server under
    `directory`, stopped after, so no other worker on a shared server can
    take the bench's tasks.
    """
    server = (base_url or "").rstrip("/")
    if server.count("/") > 2:
        server = server.rsplit("/", 1)[0]
    process = None
    if base_url and not redis_answers(f"{server}/0"):
        raise RuntimeError(f"REDIS_URL {base_url} does not answer")
    if not base_url:
        port = free_port()
        process = start_redis(directory / "redis", port)
        server = f"redis://127.0.0.1:{port}"
    url = f"{server}/{BENCH_REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
        if process is not None:
            process.terminate()
            process.wait(10)
