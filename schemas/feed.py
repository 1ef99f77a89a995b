"""The processed feed."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

VIEWS = ("stories", "documents")


class FeedQuery(Schema):
    """Query string of the feed. Unknown parameters are rejected."""

    after = fields.String(metadata={"description": "Opaque cursor from `next_cursor`."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    view = fields.String(load_default="stories", validate=validate.OneOf(VIEWS))


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
    tags = fields.List(fields.String())
    translations = fields.List(fields.Nested(Translation))
    duplicates = fields.Integer()
    link = fields.String(required=True)


class FeedPage(Schema):
    items = fields.List(fields.Nested(FeedItem), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
