"""Order each match key's postings by recency, so lookups read a bounded slice.

Revision ID: 0004
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("match_keys") as batch_op:
        batch_op.add_column(
            sa.Column(
                "added_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            )
        )
        batch_op.create_index("ix_match_keys_key_added_at", ["key", "added_at"])


def downgrade() -> None:
    with op.batch_alter_table("match_keys") as batch_op:
        batch_op.drop_index("ix_match_keys_key_added_at")
        batch_op.drop_column("added_at")
