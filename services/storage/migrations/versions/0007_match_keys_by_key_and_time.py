"""Match keys live in one B-tree ordered by key and time; a small index finds a document's keys.

Revision ID: 0007
Revises: 0006

Each processed document adds some 120 keys, each landing on its own page of
every index over the key: a primary key (key, document_id) beside the
covering (key, added_at, document_id) index wrote two pages per key, 1.4 MB
of write-ahead log per document on SQLite. The primary key is now (key,
added_at, document_id), the order lookups read (on SQLite a WITHOUT ROWID
table, so the index is the table); the index on document_id, whose entries
for one document are adjacent, serves the re-check of documents recorded
during a lookup and deletes through the foreign key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "key, document_id, added_at"


def _create(name: str, primary_key: list[str]) -> None:
    op.create_table(
        name,
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(*primary_key),
        sqlite_with_rowid=False,
    )


def _rebuild(primary_key: list[str]) -> None:
    _create("match_keys_rebuilt", primary_key)
    op.execute(f"INSERT INTO match_keys_rebuilt ({COLUMNS}) SELECT {COLUMNS} FROM match_keys")
    op.drop_table("match_keys")
    op.rename_table("match_keys_rebuilt", "match_keys")
    if op.get_bind().dialect.name == "postgresql":
        # The constraints keep the names PostgreSQL gave them on the new table.
        op.execute("ALTER INDEX match_keys_rebuilt_pkey RENAME TO match_keys_pkey")
        op.execute(
            "ALTER TABLE match_keys RENAME CONSTRAINT match_keys_rebuilt_document_id_fkey"
            " TO match_keys_document_id_fkey"
        )


def upgrade() -> None:
    _rebuild(["key", "added_at", "document_id"])
    op.create_index("ix_match_keys_document_id", "match_keys", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_match_keys_document_id", table_name="match_keys")
    _rebuild(["key", "document_id"])
    op.create_index(
        "ix_match_keys_key_added_at_document_id", "match_keys", ["key", "added_at", "document_id"]
    )
