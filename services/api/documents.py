"""GET /v1/documents/{id} and POST /v1/documents/{id}/retry."""

from __future__ import annotations

from typing import Any, NoReturn

from flask.views import MethodView
from marshmallow import RAISE

from schemas.documents import DocumentAccepted, DocumentOut, DocumentQuery
from services.api import resources
from services.api.auth import ADMIN, READ, requires
from services.api.body import Blueprint
from services.api.problems import abort
from services.storage import documents

bp = Blueprint("documents", __name__, url_prefix="/v1", description="Read documents.")

SHOWN = tuple(name for name in DocumentOut().fields if name != "raw")


def _accepted(document_id: str) -> dict[str, str]:
    return {
        "id": document_id,
        "status": "queued",
        "location": f"/v1/documents/{document_id}",
    }


def _not_found(document_id: str) -> NoReturn:
    abort(404, f"No document {document_id}.")


@bp.route("/documents/<string:document_id>")
class Document(MethodView):
    @requires(READ)
    @bp.etag
    @bp.arguments(DocumentQuery, location="query", unknown=RAISE, error_status_code=400)
    @bp.response(200, DocumentOut)
    def get(self, query: dict[str, Any], document_id: str) -> Any:
        """Return a document, its processing status and its results."""
        document = documents.get(resources.session(), document_id)
        if document is None:
            _not_found(document_id)
        body = {name: getattr(document, name) for name in SHOWN}
        if query.get("include") == "raw":
            body["raw"] = document.raw
        return body


@bp.route("/documents/<string:document_id>/retry")
class Retry(MethodView):
    @requires(ADMIN)
    @bp.response(202, DocumentAccepted)
    @bp.alt_response(409, description="The document has not failed.")
    def post(self, document_id: str) -> Any:
        """Re-queue a failed document with a fresh delivery budget."""
        session = resources.session()
        document = documents.get(session, document_id)
        if document is None:
            _not_found(document_id)
        if not documents.requeue(session, document_id):
            abort(409, f"Document {document_id} is {document.status}, not failed.")
        session.commit()
        resources.resources().sender.add([document_id])
        return _accepted(document_id)
