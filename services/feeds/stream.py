"""The live feed as Server-Sent Events, read from the database.

Each read is a short transaction and no state lives outside the database,
so it works the same under many gunicorn workers and hosts; between reads
the stream waits for a nudge (`services.feeds.nudge`) or the poll interval.
Each event's id is the item's cursor: a client that reconnects with
`Last-Event-ID` resumes exactly after the last event it received.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from services.feeds import items
from services.storage import feed
from services.storage.feed import Filter

BATCH = 100


@dataclass(frozen=True)
class Pace:
    """How often to poll and to send heartbeats, and when to close the connection."""

    poll_seconds: float = 0.5
    heartbeat_seconds: float = 15
    max_seconds: float = 300
    retry_milliseconds: int = 1000


def event(item: dict[str, object]) -> str:
    """Return one SSE event: the cursor as id, the item as one line of JSON."""
    return f"id: {item['cursor']}\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"


def events(
    sessions: sessionmaker[Session],
    flt: Filter,
    *,
    after: int,
    pace: Pace,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> Iterator[str]:
    """Yield SSE text: matching items after `after` as they commit, and heartbeats.

    Each poll is its own short transaction. Stops after `pace.max_seconds`
    (the client reconnects) so no worker thread is held forever.
    """
    started = last_write = clock()
    yield f"retry: {pace.retry_milliseconds}\n: stream open\n\n"
    while clock() - started < pace.max_seconds:
        with sessions() as session:
            found = feed.entries(session, flt, after=after, limit=BATCH)
            page = [items.dump(item) for item in items.build(feed.load(session, found, flt.view))]
        for item in page:
            yield event(item)
        if found:
            after = found[-1].seq
            last_write = clock()
            if len(page) == BATCH:
                continue
        elif clock() - last_write >= pace.heartbeat_seconds:
            yield ": heartbeat\n\n"
            last_write = clock()
        sleep(pace.poll_seconds)
