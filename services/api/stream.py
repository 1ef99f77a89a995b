"""GET /v1/feed/stream: the live feed as Server-Sent Events.

Long-lived: under gunicorn it needs a threaded worker class (gthread), and
each connection closes after `STREAM_MAX_SECONDS`; clients reconnect with
`Last-Event-ID` and miss nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import EXCLUDE, RAISE

from schemas.feed import StreamHeaders, StreamQuery
from services.api import resources
from services.api.body import Blueprint
from services.api.feed import position
from services.api.resources import Resources
from services.feeds import items, nudge, stream
from services.storage.feed import Filter

bp = Blueprint("stream", __name__, url_prefix="/v1", description="Follow the feed live.")

EVENT_STREAM = "text/event-stream"


@bp.route("/feed/stream")
class Stream(MethodView):
    @bp.arguments(StreamHeaders, location="headers", unknown=EXCLUDE, as_kwargs=True)
    @bp.arguments(StreamQuery, location="query", unknown=RAISE, error_status_code=400)
    @bp.response(
        200, description="Server-Sent Events; each id is a cursor.", content_type=EVENT_STREAM
    )
    def get(self, query: dict[str, Any], last_event_id: str | None = None) -> Any:
        """Send matching items as they are processed, after `Last-Event-ID` or `after`.

        Heartbeat comments every `STREAM_HEARTBEAT_SECONDS` keep proxies from
        closing an idle connection.
        """
        if last_event_id:
            after = position(last_event_id, "headers.Last-Event-ID")
        else:
            after = position(query.get("after"))
        found = resources.resources()
        config = found.config
        pace = stream.Pace(
            poll_seconds=config.stream_poll_milliseconds / 1000,
            heartbeat_seconds=config.stream_heartbeat_seconds,
            max_seconds=config.stream_max_seconds,
        )
        return Response(
            _follow(found, items.make_filter(query), after, pace),
            mimetype=EVENT_STREAM,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def _follow(found: Resources, flt: Filter, after: int, pace: stream.Pace) -> Iterator[str]:
    # Runs after the view returned: everything it needs is passed in.
    with nudge.listening(found.redis, found.config.stream_gather_milliseconds / 1000) as wait:
        yield from stream.events(found.read_sessions, flt, after=after, pace=pace, sleep=wait)
