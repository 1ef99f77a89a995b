"""Queue stored documents for tagging and fingerprinting again after the tables change."""

from __future__ import annotations

from services.config import Config
from services.pipeline.fingerprint import DATA_VERSION
from services.pipeline.tag import TAXONOMY_VERSION
from services.queue import RETAG_DOCUMENT, create_celery, send
from services.storage import documents, index
from services.storage.db import make_engine, make_sessionmaker, session_scope


def queue_retagging(config: Config, *, everything: bool = False) -> int:
    """Send a retag task for each document with outdated tags or keys; return how many.

    Outdated: tagged with another `TAXONOMY_VERSION`, or fingerprinted with
    another `DATA_VERSION` (its match keys and name keys are recomputed).

    Goes through the same queue as processing, so workers do the work and a
    broker outage loses nothing but this command's run (run it again).
    """
    engine = make_engine(config.database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            ids = documents.outdated_tags(session, TAXONOMY_VERSION, everything=everything)
            ids = sorted({*ids, *index.outdated(session, DATA_VERSION)})
    finally:
        engine.dispose()
    return len(send(create_celery(config), RETAG_DOCUMENT, ids))
