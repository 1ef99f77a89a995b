"""Stage and feed latencies of the last minutes, kept in Redis for the pipeline page.

Workers add each document's durations to one histogram per minute in Redis
(a hash of bucket counts, expiring after the window); the page reads the
last `WINDOW_MINUTES` of them. In Redis, not in a process's memory, so a
restart of the API or of a worker loses none of the window and every process
and host adds to the same one; not in the database, so the pipeline's
busiest store takes no extra writes and old minutes expire by themselves.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping

import redis

from services.metrics import LATENCY_BUCKETS, STAGE_BUCKETS, quantile

log = logging.getLogger(__name__)

KEY = "ingest:timings:{minute}"
FEED = "feed"
WINDOW_MINUTES = 15
# Kept a little past the window, so the oldest minute read is never half gone.
EXPIRE_SECONDS = (WINDOW_MINUTES + 2) * 60

Durations = tuple[Mapping[str, float], float | None]


def record(client: redis.Redis, durations: Iterable[Durations], now: float) -> None:
    """Add documents' stage durations and feed latencies to the minute of `now`.

    Never raises: a Redis outage costs the page some figures, not a document.
    """
    counts: Counter[str] = Counter()
    for stages, feed_seconds in durations:
        for stage, seconds in stages.items():
            counts[_field(stage, _bucket(STAGE_BUCKETS, seconds))] += 1
        if feed_seconds is not None:
            counts[_field(FEED, _bucket(LATENCY_BUCKETS, feed_seconds))] += 1
    if not counts:
        return
    key = KEY.format(minute=int(now // 60))
    try:
        with client.pipeline(transaction=False) as pipe:
            for field, count in counts.items():
                pipe.hincrby(key, field, count)
            pipe.expire(key, EXPIRE_SECONDS)
            pipe.execute()
    except redis.RedisError as error:
        log.warning("stage timings not recorded: %r", error)


def read(client: redis.Redis, now: float) -> dict[str, dict[str, float | None]]:
    """Return count, p50 and p95 per stage (and `feed`) over the last WINDOW_MINUTES minutes.

    The minute of `now` and the ones before it; linear interpolation inside
    a bucket, as PromQL's histogram_quantile does. Raises redis.RedisError.
    """
    last = int(now // 60)
    with client.pipeline(transaction=False) as pipe:
        for minute in range(last - WINDOW_MINUTES + 1, last + 1):
            pipe.hgetall(KEY.format(minute=minute))
        minutes = pipe.execute()
    counts: Counter[tuple[str, int]] = Counter()
    for fields in minutes:
        for field, count in fields.items():
            name, _, index = field.decode().rpartition("|")
            counts[(name, int(index))] += int(count)
    estimates: dict[str, dict[str, float | None]] = {}
    for name in sorted({name for name, _ in counts}):
        bounds = LATENCY_BUCKETS if name == FEED else STAGE_BUCKETS
        pairs, total = [], 0
        for index, bound in enumerate((*bounds, float("inf"))):
            total += counts[(name, index)]
            pairs.append((bound, float(total)))
        estimates[name] = {
            "count": float(total),
            "p50": quantile(pairs, total, 0.5),
            "p95": quantile(pairs, total, 0.95),
        }
    return estimates


def _bucket(bounds: tuple[float, ...], seconds: float) -> int:
    """Return the index of the first bucket whose upper bound holds the value (len: +Inf)."""
    return next((index for index, bound in enumerate(bounds) if seconds <= bound), len(bounds))


def _field(name: str, index: int) -> str:
    return f"{name}|{index}"
