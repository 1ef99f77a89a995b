"""Documents in and out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

CONTENT_TYPES = ("text/plain", "text/html")
STATUSES = ("queued", "processing", "processed", "failed")
RELATIONS = ("canonical", "translation", "near_duplicate", "exact_duplicate")
# Far enough from datetime's limits that no offset or date arithmetic overflows.
EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


class DocumentIn(Schema):
    """A document submitted for ingestion. Unknown fields are rejected."""

    content = fields.String(required=True, metadata={"description": "Text or HTML body."})
    content_type = fields.String(load_default="text/plain", validate=validate.OneOf(CONTENT_TYPES))
    title = fields.String(validate=validate.Length(max=1000), allow_none=True)
    url = fields.Url(validate=validate.Length(max=4000), allow_none=True)
    source = fields.String(validate=validate.Length(min=1, max=200), allow_none=True)
    external_id = fields.String(validate=validate.Length(min=1, max=200), allow_none=True)
    language = fields.String(
        validate=validate.Regexp(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", error="Not a language code."),
        allow_none=True,
        metadata={"description": "A hint (ISO 639-1); detection decides."},
    )
    published_at = fields.AwareDateTime(
        default_timezone=None,
        allow_none=True,
        validate=validate.Range(min=EARLIEST, max=LATEST, max_inclusive=False),
        metadata={"description": "ISO 8601 with an offset, years 1000 to 2999."},
    )
    metadata = fields.Dict(keys=fields.String(), allow_none=True)

    @validates("content")
    def _content_not_blank(self, value: str, **_: Any) -> None:
        if not value.strip():
            raise ValidationError("Content is empty.")
        if "\x00" in value:
            raise ValidationError("Content contains NUL characters.")


class BatchIn(Schema):
    documents = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1))


class DocumentAccepted(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    location = fields.String(required=True)


class BatchItemResult(Schema):
    index = fields.Integer(required=True)
    status = fields.Integer(required=True, metadata={"description": "HTTP status for this item."})
    id = fields.String()
    location = fields.String()
    problem = fields.Dict()


class BatchResult(Schema):
    results = fields.List(fields.Nested(BatchItemResult), required=True)
    accepted = fields.Integer(required=True)
    repeated = fields.Integer(required=True)
    rejected = fields.Integer(required=True)


class TagOut(Schema):
    id = fields.String(required=True)
    label = fields.String()
    label_local = fields.String(allow_none=True)
    score = fields.Float()
    evidence = fields.String(allow_none=True)
    offsets = fields.List(fields.List(fields.Integer()))
    version = fields.String()


class DocumentOut(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    received_at = fields.DateTime(required=True)
    processed_at = fields.DateTime(allow_none=True)
    language = fields.String(allow_none=True)
    language_confidence = fields.Float(allow_none=True)
    title = fields.String(allow_none=True)
    byline = fields.String(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    source = fields.String(allow_none=True)
    external_id = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    text = fields.String(allow_none=True)
    tags = fields.List(fields.Nested(TagOut), allow_none=True)
    story_id = fields.String(allow_none=True)
    relation = fields.String(allow_none=True)
    score = fields.Float(allow_none=True)
    evidence = fields.Dict(allow_none=True)
    quality = fields.String(
        allow_none=True,
        metadata={
            "description": "`no_article` for a page without one (a consent wall, a "
            "sign-up or block notice); null for an article."
        },
    )
    quality_reason = fields.String(
        allow_none=True,
        metadata={
            "description": "Why a page has no article: `consent_wall`, `signup_prompt`, "
            "`paywall`, `adblock_wall`, `access_blocked` or `too_little_text`."
        },
    )
    error = fields.String(allow_none=True)
    deliveries = fields.Integer()
    raw = fields.Dict(metadata={"description": "The input as received; only with ?include=raw."})


class DocumentQuery(Schema):
    include = fields.String(validate=validate.OneOf(["raw"]))
