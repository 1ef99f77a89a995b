"""Documents say whether they carry an article: `quality` and `quality_reason`.

Revision ID: 0008
Revises: 0007

A page without an article (a consent wall, a sign-up prompt, a block
notice) is stored and processed like any other, but kept out of stories and
of the default feed; these columns say so and why. Both are null for an
article, so existing rows need no backfill.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("quality", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("quality_reason", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("quality_reason")
        batch.drop_column("quality")
