"""A Redis pub/sub nudge when documents enter the feed, so stream followers wake at once.

The database stays the only source of truth: a follower that misses a nudge
(Redis down, a message lost on reconnect) still finds the entries on its
next poll, `STREAM_POLL_MILLISECONDS` later at most.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

log = logging.getLogger(__name__)

CHANNEL = "ingest:feed"


def announce(client: redis.Redis) -> None:
    """Tell stream followers that the feed grew. Never raises."""
    try:
        client.publish(CHANNEL, "1")
    except redis.RedisError as error:
        log.debug("feed nudge not sent: %r", error)


@contextmanager
def listening(client: redis.Redis, gather: float = 0.0) -> Iterator[Callable[[float], bool]]:
    """Yield `wait(seconds)`: a sleep that ends early, returning True, when the feed grows.

    After a nudge it waits `gather` seconds more, so the documents of a burst
    are read together: one read per document cost the API more than intake.
    Without Redis, `wait` is a plain sleep: the stream falls back to polling.
    """
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(CHANNEL)
        # Take the confirmation now, or it would end the first wait early.
        pubsub.get_message(timeout=1)
    except redis.RedisError as error:
        log.debug("feed nudges unavailable, polling: %r", error)
        pubsub.close()
        yield _sleep
        return

    def wait(seconds: float) -> bool:
        try:
            if pubsub.get_message(timeout=seconds) is None:
                return False
        except redis.RedisError:
            return _sleep(seconds)
        time.sleep(gather)
        # One read of the database serves every nudge received so far.
        while pubsub.get_message(timeout=0) is not None:
            pass
        return True

    try:
        yield wait
    finally:
        pubsub.close()


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False
