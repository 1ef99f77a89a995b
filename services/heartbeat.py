"""Worker heartbeats in Redis: each worker says it is alive, and a scrape counts the live ones.

Each worker's main process writes its name with Redis's clock into one
sorted set every `WORKER_HEARTBEAT_SECONDS`, from a thread of its own, so a
worker busy with long tasks still beats. A worker whose last beat is older
than `MISSED_BEATS` beats is dead: killed, out of memory, or on a lost host.
One that stops cleanly removes itself at once. Redis's clock, not the
host's, so workers and the API on different hosts agree on what is recent.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from celery import signals

log = logging.getLogger(__name__)

KEY = "ingest:workers:heartbeat"
# Three beats: a worker is not declared dead for one slow write.
MISSED_BEATS = 3


class Heartbeat:
    """A thread that writes one worker's beat until stopped."""

    def __init__(self, client: redis.Redis, name: str, interval: float) -> None:
        self._client = client
        self._name = name
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        """Beat now, then every interval, in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and remove this worker from the set."""
        self._stopped.set()
        self._thread.join(timeout=self._interval + 5)
        try:
            self._client.zrem(KEY, self._name)
        except redis.RedisError as error:
            log.warning("could not remove the heartbeat of %s: %r", self._name, error)

    def _run(self) -> None:
        while True:
            try:
                beat(self._client, self._name)
            except redis.RedisError as error:
                log.warning("heartbeat not written: %r", error)
            if self._stopped.wait(self._interval):
                return


def beat(client: redis.Redis, name: str) -> None:
    """Record that the named worker is alive now, by Redis's clock."""
    seconds, micros = client.time()
    client.zadd(KEY, {name: seconds + micros / 1e6})


def count_alive(client: redis.Redis, interval: float) -> int:
    """Return how many workers beat within the last MISSED_BEATS intervals; forget older ones.

    Raises redis.RedisError when Redis does not answer.
    """
    seconds, micros = client.time()
    oldest = seconds + micros / 1e6 - MISSED_BEATS * interval
    with client.pipeline(transaction=False) as pipe:
        pipe.zremrangebyscore(KEY, "-inf", f"({oldest}")
        pipe.zcard(KEY)
        return int(pipe.execute()[1])


_running: dict[str, Heartbeat] = {}


def connect_celery(redis_url: str, interval: float) -> None:
    """Beat from each worker's main process while it runs. Idempotent."""
    if interval <= 0:
        return

    def started(sender: Any = None, **_: Any) -> None:
        name = str(getattr(sender, "hostname", None) or "worker")
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        heartbeat = Heartbeat(client, name, interval)
        _running[name] = heartbeat
        heartbeat.start()

    def stopping(**_: Any) -> None:
        for name in list(_running):
            _running.pop(name).stop()

    signals.worker_ready.connect(started, weak=False, dispatch_uid="ingest.heartbeat.start")
    signals.worker_shutdown.connect(stopping, weak=False, dispatch_uid="ingest.heartbeat.stop")
