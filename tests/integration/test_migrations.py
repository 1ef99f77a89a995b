"""The migrations build exactly the schema the models declare."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.orm import Session, sessionmaker

from services.storage.models import Base

# Full-text search is built by migration 0002 for one database only: an FTS5
# table (and its shadow tables) on SQLite, an expression GIN index on PostgreSQL.
SEARCH_PREFIXES = ("documents_fts", "ix_documents_search")


def _declared(_obj: Any, name: str | None, _type: str, _reflected: bool, _other: Any) -> bool:
    return not (name or "").startswith(SEARCH_PREFIXES)


def test_the_migrated_schema_is_the_models_schema(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        context = MigrationContext.configure(
            session.connection(), opts={"include_object": _declared}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
