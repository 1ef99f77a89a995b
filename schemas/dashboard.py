"""What the operators' pipeline page reads."""

from __future__ import annotations

from marshmallow import Schema, fields


class ThroughputPoint(Schema):
    start = fields.AwareDateTime(required=True)
    received = fields.Integer(required=True)
    processed = fields.Integer(required=True)


class Latency(Schema):
    stage = fields.String(required=True)
    count = fields.Integer(required=True)
    p50_seconds = fields.Float(allow_none=True)
    p95_seconds = fields.Float(allow_none=True)


class StoryLine(Schema):
    id = fields.String(required=True)
    title = fields.String(allow_none=True)
    languages = fields.List(fields.String(), required=True)
    members = fields.Integer(required=True)
    updated_at = fields.AwareDateTime(required=True)


class FailedLine(Schema):
    id = fields.String(required=True)
    error = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    deliveries = fields.Integer(required=True)
    updated_at = fields.AwareDateTime(required=True)


class SetAsideLine(Schema):
    id = fields.String(required=True)
    quality = fields.String(
        required=True, metadata={"description": "`no_text` or `no_article`: no retry changes it."}
    )
    reason = fields.String(
        allow_none=True,
        metadata={"description": "Why: the error, or the quality's reason (`consent_wall`...)."},
    )
    source = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    updated_at = fields.AwareDateTime(required=True)


class DashboardSummary(Schema):
    generated_at = fields.AwareDateTime(required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    failed_count = fields.Integer(
        required=True,
        metadata={"description": "Failed documents a retry may fix (not those set aside)."},
    )
    queue_length = fields.Integer(
        allow_none=True, metadata={"description": "Messages in the broker queue; null if unknown."}
    )
    bucket_seconds = fields.Integer(required=True)
    window_seconds = fields.Integer(
        required=True, metadata={"description": "The span of `stages` and `feed_latency`."}
    )
    throughput = fields.List(fields.Nested(ThroughputPoint), required=True)
    stages = fields.List(
        fields.Nested(Latency),
        required=True,
        metadata={"description": "Stage durations over the last `window_seconds`."},
    )
    feed_latency = fields.Nested(Latency, required=True)
    stories = fields.List(fields.Nested(StoryLine), required=True)
    failed = fields.List(fields.Nested(FailedLine), required=True)
    set_aside = fields.List(
        fields.Nested(SetAsideLine),
        required=True,
        metadata={"description": "Documents that can never join others in a story, and why."},
    )
