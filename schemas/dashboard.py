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


class DashboardSummary(Schema):
    generated_at = fields.AwareDateTime(required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    queue_length = fields.Integer(
        allow_none=True, metadata={"description": "Messages in the broker queue; null if unknown."}
    )
    bucket_seconds = fields.Integer(required=True)
    throughput = fields.List(fields.Nested(ThroughputPoint), required=True)
    stages = fields.List(
        fields.Nested(Latency),
        required=True,
        metadata={"description": "Stage durations since the processes started."},
    )
    feed_latency = fields.Nested(Latency, required=True)
    stories = fields.List(fields.Nested(StoryLine), required=True)
    failed = fields.List(fields.Nested(FailedLine), required=True)
