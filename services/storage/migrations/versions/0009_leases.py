"""A claimed document holds a lease its worker renews; the sweeper frees expired ones.

Revision ID: 0009
Revises: 0008

`lease_expires_at` is set when a worker claims a document and pushed forward
while it works; a document in `processing` whose lease passed lost its worker
and goes back to the queue at once, not after twice the task time limit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_documents_status_lease_expires_at", "documents", ["status", "lease_expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_documents_status_lease_expires_at", table_name="documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("lease_expires_at")
