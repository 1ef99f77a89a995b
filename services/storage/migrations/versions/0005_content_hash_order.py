"""Join the schema's branches; find a content hash's first processed document by index.

Revision ID: 0005
Revises: 0002, 0003, 0004

Without statistics SQLite chose the status index for the exact-duplicate
lookup and scanned every processed document; an index on the hash and the
processing time answers it with one range probe on both databases.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = ("0002", "0003", "0004")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch_op:
        batch_op.drop_index("ix_documents_content_hash")
        batch_op.create_index(
            "ix_documents_content_hash_processed_at", ["content_hash", "processed_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch_op:
        batch_op.drop_index("ix_documents_content_hash_processed_at")
        batch_op.create_index("ix_documents_content_hash", ["content_hash"])
