"""The processed feed: its filters, pages, items and tags."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

VIEWS = ("stories", "documents")
QUALITIES = ("article", "no_article", "any")
LANGUAGES = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?(,[a-z]{2,3}(-[A-Za-z0-9]{2,8})?)*$"
TAG = r"[a-z][a-z0-9_-]*:[^,\s]+"
TAGS = rf"^{TAG}(,{TAG})*$"


class Instant(fields.Field):
    """An ISO 8601 date or date-time; a date means its midnight, a naive time UTC."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise ValidationError("Not a date or date-time.")
        try:
            if len(value) == 10:
                return datetime.combine(date.fromisoformat(value), time(), UTC)
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as error:
            raise ValidationError("Not an ISO 8601 date or date-time.") from error
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return value.isoformat() if isinstance(value, datetime) else value


class FeedFilters(Schema):
    """Which items: every parameter narrows the feed. Used by the feed, stream and webhooks."""

    view = fields.String(
        load_default="stories",
        validate=validate.OneOf(VIEWS),
        metadata={"description": "`stories`: one item per story update; `documents`: all."},
    )
    lang = fields.List(
        fields.String(validate=validate.Regexp(LANGUAGES, error="Not a language code list.")),
        metadata={"description": "Language (ISO 639-1); comma-separated values match any."},
    )
    tag = fields.List(
        fields.String(validate=validate.Regexp(TAGS, error="Not a tag id list.")),
        metadata={
            "description": "Tag id like `country:KZ`; comma-separated values match any, "
            "repeated parameters must all match."
        },
    )
    source = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        metadata={"description": "Source; repeated values match any."},
    )
    since = Instant(metadata={"description": "Published at or after (ISO 8601)."})
    until = Instant(metadata={"description": "Published before (ISO 8601)."})
    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Words that all occur in the title or text."},
    )
    quality = fields.String(
        validate=validate.OneOf(QUALITIES),
        metadata={
            "description": "`article` (the default): documents with an article; "
            "`no_article`: pages without one (consent walls, block notices); `any`: both."
        },
    )


class FeedQuery(FeedFilters):
    """Query string of the feed. Unknown parameters are rejected."""

    after = fields.String(metadata={"description": "Opaque cursor from `next_cursor`."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class StreamQuery(FeedFilters):
    """Query string of the live stream. Unknown parameters are rejected."""

    after = fields.String(
        metadata={"description": "Start after this cursor; `Last-Event-ID` wins when sent."}
    )


class StreamHeaders(Schema):
    last_event_id = fields.String(data_key="Last-Event-ID")


class Translation(Schema):
    document_id = fields.String(required=True)
    language = fields.String(allow_none=True)
    title = fields.String(allow_none=True)


class FeedItem(Schema):
    cursor = fields.String(required=True)
    story_id = fields.String(required=True)
    revision = fields.Integer(required=True)
    document_id = fields.String(required=True)
    relation = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    summary = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    processed_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime(
        allow_none=True, metadata={"description": "When this entry entered the feed."}
    )
    tags = fields.List(fields.String())
    translations = fields.List(fields.Nested(Translation))
    duplicates = fields.Integer()
    related_count = fields.Integer(
        metadata={"description": "Other stories on the same event (`/v1/stories/{id}/related`)."}
    )
    quality = fields.String(allow_none=True)
    link = fields.String(required=True)


class FeedPage(Schema):
    items = fields.List(fields.Nested(FeedItem), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class TagsQuery(Schema):
    kind = fields.String(
        validate=validate.Regexp(r"^[a-z][a-z0-9_-]*$", error="Not a tag kind."),
        metadata={"description": "Only tags of this kind, e.g. `country`."},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class TagCount(Schema):
    id = fields.String(required=True)
    label = fields.String(allow_none=True)
    documents = fields.Integer(required=True)


class TagList(Schema):
    tags = fields.List(fields.Nested(TagCount), required=True)
