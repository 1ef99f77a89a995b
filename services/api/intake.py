"""POST /v1/documents and /v1/documents/batch: validate, store, then hand to the sender."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request, url_for
from flask.views import MethodView
from marshmallow import ValidationError

from schemas.documents import BatchIn, BatchResult, DocumentAccepted, DocumentIn
from services.api import resources
from services.api.auth import INGEST, requires
from services.api.body import Blueprint
from services.api.problems import abort, flatten, problem
from services.storage import documents

bp = Blueprint("intake", __name__, url_prefix="/v1", description="Submit documents.")

# Room for the JSON fields around a document's content.
ENVELOPE_BYTES = 64 * 1024
# What the idempotency_key column holds.
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")


@bp.before_request
def _check_body() -> Response | None:
    if request.method != "POST" or request.endpoint not in (
        "intake.Documents",
        "intake.Batch",
    ):
        return None
    config = resources.resources().config
    batch = request.endpoint == "intake.Batch"
    limit = config.max_batch_bytes if batch else config.max_document_bytes + ENVELOPE_BYTES
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        return problem(413, "Payload too large", f"The body exceeds {limit} bytes.")
    if not request.is_json:
        return problem(415, "Unsupported media type", "Send the body as application/json.")
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        return problem(
            400,
            "Bad Request",
            "Idempotency-Key must be 1 to 200 visible ASCII characters.",
            [{"field": "headers.Idempotency-Key", "message": "Not a valid key."}],
        )
    return None


def _too_large(fields: dict[str, Any]) -> bool:
    limit = resources.resources().config.max_document_bytes
    return len(fields["content"].encode("utf-8", "surrogatepass")) > limit


def _accepted(document_id: str, status: str) -> dict[str, str]:
    location = url_for("documents.Document", document_id=document_id)
    return {"id": document_id, "status": status, "location": location}


@bp.route("/documents")
class Documents(MethodView):
    @requires(INGEST)
    @bp.arguments(DocumentIn)
    @bp.response(202, DocumentAccepted)
    @bp.alt_response(200, schema=DocumentAccepted, description="A repeat: the first document.")
    @bp.alt_response(413, description="The document is too large.")
    @bp.alt_response(415, description="The body is not JSON.")
    def post(self, fields: dict[str, Any]) -> Any:
        """Accept one document for processing."""
        if _too_large(fields):
            limit = resources.resources().config.max_document_bytes
            abort(
                413,
                f"content exceeds {limit} bytes.",
                [{"field": "json.content", "message": "Too large."}],
            )
        session = resources.session()
        accepted = documents.accept(session, fields, request.headers.get("Idempotency-Key"))
        session.commit()
        body = _accepted(accepted.id, accepted.status)
        if not accepted.created:
            return body, 200, {"Location": body["location"]}
        resources.resources().sender.add([accepted.id])
        return body, 202, {"Location": body["location"]}


@bp.route("/documents/batch")
class Batch(MethodView):
    @requires(INGEST)
    @bp.arguments(BatchIn)
    @bp.response(200, BatchResult)
    @bp.alt_response(413, description="The body is too large.")
    def post(self, batch: dict[str, Any]) -> Any:
        """Accept up to `MAX_BATCH_DOCUMENTS` documents; each item gets its own status."""
        items = batch["documents"]
        config = resources.resources().config
        if len(items) > config.max_batch_documents:
            abort(
                422,
                "Too many documents.",
                [
                    {
                        "field": "json.documents",
                        "message": f"At most {config.max_batch_documents} documents per batch.",
                    }
                ],
            )
        results: list[dict[str, Any] | None] = [None] * len(items)
        valid: list[tuple[int, dict[str, Any]]] = []
        schema = DocumentIn()
        for position, item in enumerate(items):
            try:
                fields = schema.load(item)
            except ValidationError as error:
                results[position] = _rejected(
                    position,
                    422,
                    "Invalid fields",
                    list(flatten(error.messages, f"json.documents.{position}")),
                )
                continue
            if _too_large(fields):
                results[position] = _rejected(
                    position,
                    413,
                    "Payload too large",
                    [
                        {
                            "field": f"json.documents.{position}.content",
                            "message": "Too large.",
                        }
                    ],
                )
                continue
            valid.append((position, fields))
        session = resources.session()
        outcomes = documents.accept_many(session, [fields for _, fields in valid])
        session.commit()
        for (position, _), outcome in zip(valid, outcomes, strict=True):
            body = _accepted(outcome.id, outcome.status)
            results[position] = {
                **body,
                "index": position,
                "status": 202 if outcome.created else 200,
            }
        resources.resources().sender.add(o.id for o in outcomes if o.created)
        created = sum(outcome.created for outcome in outcomes)
        return {
            "results": results,
            "accepted": created,
            "repeated": len(outcomes) - created,
            "rejected": len(items) - len(outcomes),
        }


def _rejected(
    position: int, status: int, title: str, errors: list[dict[str, str]]
) -> dict[str, Any]:
    return {
        "index": position,
        "status": status,
        "problem": {
            "type": f"/problems/{'invalid-fields' if status == 422 else 'payload-too-large'}",
            "title": title,
            "status": status,
            "errors": errors,
        },
    }
