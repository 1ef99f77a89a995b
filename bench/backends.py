"""Throwaway databases and a Redis database number for one run, removed after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from services.supervisor import free_port, redis_answers, start_redis

# The tests use 13; the service's default is 0.
BENCH_REDIS_DB = 12


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
