"""End to end: the SSE stream under gunicorn (gthread workers) resumes without gaps."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests

from services.config import Config
from tests.e2e.conftest import serve

# Longer than any test here waits: an item arrives sooner only through the
# worker's nudge (services/feeds/nudge.py).
POLL_MILLISECONDS = 600_000


@pytest.fixture(scope="module")
def api_url(config: Config) -> Iterator[str]:
    with serve(
        config,
        STREAM_HEARTBEAT_SECONDS="1",
        STREAM_MAX_SECONDS="30",
        STREAM_POLL_MILLISECONDS=str(POLL_MILLISECONDS),
    ) as url:
        yield url


def _post(url: str, source: str, start: int, count: int, headers: dict[str, str]) -> list[str]:
    return [
        requests.post(
            f"{url}/v1/documents",
            json={"content": f"Live wire {i}: the river rose {i * 3} cm.", "source": source},
            headers=headers,
            timeout=10,
        ).json()["id"]
        for i in range(start, start + count)
    ]


def _read(lines: Iterator[str], count: int) -> tuple[list[str], str]:
    """Return the document ids of the next `count` events and the last event id."""
    ids: list[str] = []
    event_id = ""
    for line in lines:
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            ids.append(json.loads(line[6:])["document_id"])
            if len(ids) == count:
                break
    return ids, event_id


def test_stream_client_reconnecting_with_last_event_id_misses_nothing(
    api_url: str, auth_headers: dict[str, str]
) -> None:
    source = f"e2e-stream-{time.time_ns()}"
    stream = f"{api_url}/v1/feed/stream?view=documents&source={source}"
    posted = _post(api_url, source, 0, 3, auth_headers)
    with requests.get(stream, headers=auth_headers, stream=True, timeout=(5, 60)) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        seen, last = _read(response.iter_lines(decode_unicode=True), 2)
    posted += _post(api_url, source, 3, 3, auth_headers)
    resume = {**auth_headers, "Last-Event-ID": last}
    with requests.get(stream, headers=resume, stream=True, timeout=(5, 60)) as r:
        more, _ = _read(r.iter_lines(decode_unicode=True), 4)
    seen += more
    assert sorted(seen) == sorted(posted)
    assert len(set(seen)) == 6


def test_a_waiting_stream_wakes_when_a_document_is_processed(
    api_url: str, auth_headers: dict[str, str]
) -> None:
    source = f"e2e-nudge-{time.time_ns()}"
    stream = f"{api_url}/v1/feed/stream?view=documents&source={source}"
    with requests.get(stream, headers=auth_headers, stream=True, timeout=(5, 60)) as response:
        lines = response.iter_lines(decode_unicode=True)
        # The first line comes once the stream listens for nudges.
        assert next(lines).startswith("retry: ")
        posted = _post(api_url, source, 0, 1, auth_headers)
        seen, _ = _read(lines, 1)
    assert seen == posted
