"""feed filters, text search and webhooks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:00:00

Indexes for the feed filters; full-text search (PostgreSQL: an expression GIN
index with the 'simple' configuration; SQLite: an FTS5 table keyed by feed
seq, kept by triggers on feed_entries); webhook subscriptions and their
delivery log.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Must match services/storage/feed.py PG_SEARCH character for character.
PG_SEARCH_INDEX = (
    "CREATE INDEX ix_documents_search ON documents USING gin "
    "(to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(text, '')))"
)

SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE documents_fts USING fts5(title, text, tokenize = 'unicode61')",
    # The rowid is the feed seq: an INTEGER PRIMARY KEY, so VACUUM keeps it.
    """CREATE TRIGGER feed_entries_fts_insert AFTER INSERT ON feed_entries BEGIN
        INSERT INTO documents_fts (rowid, title, text)
        SELECT new.seq, coalesce(title, ''), coalesce(text, '')
        FROM documents WHERE id = new.document_id;
    END""",
    """CREATE TRIGGER feed_entries_fts_delete AFTER DELETE ON feed_entries BEGIN
        DELETE FROM documents_fts WHERE rowid = old.seq;
    END""",
    """INSERT INTO documents_fts (rowid, title, text)
        SELECT f.seq, coalesce(d.title, ''), coalesce(d.text, '')
        FROM feed_entries f JOIN documents d ON d.id = f.document_id""",
)


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index("ix_documents_language", ["language"], unique=False)
        batch_op.create_index("ix_documents_published_at", ["published_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_SEARCH_INDEX)
    else:
        for statement in SQLITE_SEARCH:
            op.execute(statement)

    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("delivered_seq", sa.BigInteger(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_token", sa.String(length=36), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["webhook_id"], ["webhooks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_deliveries_webhook_id_id", ["webhook_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_webhook_id_id")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_documents_search")
    else:
        op.execute("DROP TRIGGER IF EXISTS feed_entries_fts_delete")
        op.execute("DROP TRIGGER IF EXISTS feed_entries_fts_insert")
        op.execute("DROP TABLE IF EXISTS documents_fts")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_published_at")
        batch_op.drop_index("ix_documents_language")
