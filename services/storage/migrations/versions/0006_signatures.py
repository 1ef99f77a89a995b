"""What matching reads moves out of the documents' wide rows; key lookups read the index alone.

Revision ID: 0006
Revises: 0005

At 100,000 documents a lookup grew tenfold: each of some fifty candidates'
fingerprints was read from behind its raw payload and text (overflow pages
of a wide row), and each of a key's postings from its own table row,
scattered over the file. `signatures` holds a processed document's story,
language, publication time, content hash and fingerprint; the match key
index now carries the document id, so a key's newest postings are adjacent.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signatures",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("story_id", sa.String(length=36), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("document_id"),
    )
    op.execute(
        "INSERT INTO signatures"
        " (document_id, story_id, language, published_at, content_hash, fingerprint)"
        " SELECT id, story_id, coalesce(language, 'und'), published_at, content_hash, fingerprint"
        " FROM documents WHERE status = 'processed' AND story_id IS NOT NULL"
        " AND content_hash IS NOT NULL AND fingerprint IS NOT NULL"
    )
    # A plain ALTER on both databases: rebuilding `documents` is not needed.
    op.drop_column("documents", "fingerprint")
    with op.batch_alter_table("match_keys") as batch_op:
        batch_op.create_index(
            "ix_match_keys_key_added_at_document_id", ["key", "added_at", "document_id"]
        )
        batch_op.drop_index("ix_match_keys_key_added_at")


def downgrade() -> None:
    with op.batch_alter_table("match_keys") as batch_op:
        batch_op.create_index("ix_match_keys_key_added_at", ["key", "added_at"])
        batch_op.drop_index("ix_match_keys_key_added_at_document_id")
    op.add_column("documents", sa.Column("fingerprint", sa.JSON(), nullable=True))
    op.execute(
        "UPDATE documents SET fingerprint ="
        " (SELECT fingerprint FROM signatures WHERE signatures.document_id = documents.id)"
    )
    op.drop_table("signatures")
