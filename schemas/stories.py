"""Stories: a canonical document, the documents that repeat or translate it, related stories."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.documents import RELATIONS


class StoryMember(Schema):
    document_id = fields.String(required=True)
    language = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    relation = fields.String(required=True, validate=validate.OneOf(RELATIONS))
    score = fields.Float(allow_none=True)
    evidence = fields.Dict(allow_none=True)


class RelatedStory(Schema):
    story_id = fields.String(required=True)
    canonical_id = fields.String(required=True)
    title = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    score = fields.Float(required=True)
    evidence = fields.Dict(
        metadata={"description": "The facts both stories state: names, entities, numbers, dates."}
    )
    link = fields.String(required=True)


class RelatedList(Schema):
    story_id = fields.String(required=True)
    related = fields.List(fields.Nested(RelatedStory), required=True)


class StoryOut(Schema):
    id = fields.String(required=True)
    canonical_id = fields.String(required=True)
    revision = fields.Integer(required=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    members = fields.List(fields.Nested(StoryMember), required=True)
    related = fields.List(
        fields.Nested(RelatedStory),
        metadata={"description": "Other stories on the same event: different articles."},
    )
