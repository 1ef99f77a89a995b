"""The pipeline page's latency window and the workers' heartbeats, on real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from services import heartbeat, timings
from tests.integration.conftest import wait_for


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    found = redis.Redis.from_url(redis_url)
    yield found
    for key in found.scan_iter("ingest:timings:*"):
        found.delete(key)
    found.delete(heartbeat.KEY)
    found.close()


def test_the_window_is_read_back_by_any_client(client: redis.Redis, redis_url: str) -> None:
    now = 1_800_000_000.0
    fast = [({"normalize": 0.002, "store": 0.004}, 0.3) for _ in range(19)]
    timings.record(client, [*fast, ({"normalize": 0.2, "store": 0.004}, 40.0)], now)
    timings.record(client, [({"normalize": 0.002}, None)], now - 60)
    other = redis.Redis.from_url(redis_url)
    try:
        found = timings.read(other, now + 30)
    finally:
        other.close()
    assert found["normalize"]["count"] == 21
    assert found["store"]["count"] == 20
    assert found[timings.FEED]["count"] == 20
    assert 0.001 < found["normalize"]["p50"] <= 0.0025  # type: ignore[operator]
    assert found["normalize"]["p95"] <= 0.0025  # type: ignore[operator]
    assert 0.25 < found[timings.FEED]["p50"] <= 0.5  # type: ignore[operator]
    assert ttl_within(client, now, timings.EXPIRE_SECONDS)


def ttl_within(client: redis.Redis, now: float, expire: int) -> bool:
    ttl = client.ttl(timings.KEY.format(minute=int(now // 60)))
    return 0 < ttl <= expire


def test_minutes_older_than_the_window_are_left_out(client: redis.Redis) -> None:
    now = 1_800_000_000.0
    timings.record(client, [({"tag": 0.003}, 1.0)], now - timings.WINDOW_MINUTES * 60)
    timings.record(client, [({"tag": 0.003}, 1.0)], now - (timings.WINDOW_MINUTES - 1) * 60)
    found = timings.read(client, now)
    assert found["tag"]["count"] == 1
    assert found[timings.FEED]["count"] == 1


def test_an_empty_window_has_no_figures(client: redis.Redis) -> None:
    assert timings.read(client, 1_700_000_000.0) == {}


def test_a_beating_worker_is_alive_until_it_stops_or_falls_silent(client: redis.Redis) -> None:
    interval = 0.2
    beating = heartbeat.Heartbeat(client, "celery@beating", interval)
    beating.start()
    try:
        wait_for(lambda: heartbeat.count_alive(client, interval) == 1)
        # A worker killed without stopping: its last beat ages out.
        seconds, _ = client.time()
        client.zadd(heartbeat.KEY, {"celery@killed": seconds - 10})
        assert heartbeat.count_alive(client, interval) == 1
        assert client.zscore(heartbeat.KEY, "celery@killed") is None
        first = client.zscore(heartbeat.KEY, "celery@beating")
        wait_for(lambda: (client.zscore(heartbeat.KEY, "celery@beating") or 0) > (first or 0))
        assert heartbeat.count_alive(client, interval) == 1
    finally:
        beating.stop()
    assert heartbeat.count_alive(client, interval) == 0
