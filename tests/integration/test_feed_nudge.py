"""Feed nudges over real Redis pub/sub: a waiting stream wakes once per burst."""

from __future__ import annotations

import threading
import time

import redis

from services.feeds import nudge

GATHER = 0.3


def test_a_burst_of_nudges_wakes_a_listener_once(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    with nudge.listening(client, gather=GATHER) as wait:
        burst = threading.Timer(
            0.2, lambda: [nudge.announce(client) or time.sleep(0.05) for _ in range(4)]
        )
        burst.start()
        started = time.monotonic()
        assert wait(10)
        woke = time.monotonic() - started
        burst.join()
        # Woken by the first nudge, then held while the rest arrived.
        assert 0.2 + GATHER - 0.05 <= woke < 5
        # Every nudge of the burst was taken: the next wait is not woken.
        assert not wait(0.5)
    client.close()
