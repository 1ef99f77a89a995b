"""GET /v1/stories/{id} (a story's canonical document, members and related stories) and
GET /v1/stories/{id}/related (its related coverage)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy.orm import Session

from schemas.stories import RelatedList, StoryOut
from services.api import resources
from services.api.auth import READ, requires
from services.api.body import Blueprint
from services.api.problems import abort
from services.storage import stories

bp = Blueprint("stories", __name__, url_prefix="/v1", description="Read stories.")


@bp.route("/stories/<string:story_id>")
class Story(MethodView):
    @requires(READ)
    @bp.etag
    @bp.response(200, StoryOut)
    def get(self, story_id: str) -> Any:
        """Return the story with each member's relation, score and evidence."""
        session = resources.session()
        story = stories.get(session, story_id)
        if story is None:
            abort(404, f"No story {story_id}.")
        members = stories.members(session, [story_id])[story_id]
        return {
            "id": story.id,
            "canonical_id": story.canonical_id,
            "revision": story.revision,
            "created_at": story.created_at,
            "updated_at": story.updated_at,
            "members": [
                {
                    "document_id": member.id,
                    "language": member.language,
                    "title": member.title,
                    "relation": member.relation or "canonical",
                    "score": member.score,
                    "evidence": member.evidence,
                }
                for member in members
            ],
            "related": _related(session, story_id),
        }


@bp.route("/stories/<string:story_id>/related")
class Related(MethodView):
    @requires(READ)
    @bp.etag
    @bp.response(200, RelatedList)
    def get(self, story_id: str) -> Any:
        """Return the other stories on the same event, best linked first."""
        session = resources.session()
        if stories.get(session, story_id) is None:
            abort(404, f"No story {story_id}.")
        return {"story_id": story_id, "related": _related(session, story_id)}


def _related(session: Session, story_id: str) -> list[dict[str, Any]]:
    return [
        {
            "story_id": found.story_id,
            "canonical_id": found.canonical_id,
            "title": found.title,
            "language": found.language,
            "score": found.score,
            "evidence": found.evidence,
            "link": f"/v1/stories/{found.story_id}",
        }
        for found in stories.related(session, story_id)
    ]
