"""Documents say whether they carry an article; stories link to related coverage.

Revision ID: 0008
Revises: 0007

A page without an article (a consent wall, a sign-up prompt, a block
notice) is stored and processed like any other, but kept out of stories and
of the default feed: `documents.quality` and `quality_reason` say so and
why. Both are null for an article, so existing rows need no backfill.

`story_links`: two stories that cover one event (different articles, kept
apart), in both directions, with the score and evidence of the link.
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
    op.create_table(
        "story_links",
        sa.Column("story_id", sa.String(length=36), nullable=False),
        sa.Column("related_story_id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("related_document_id", sa.String(length=36), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["related_story_id"], ["stories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("story_id", "related_story_id"),
    )


def downgrade() -> None:
    op.drop_table("story_links")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("quality_reason")
        batch.drop_column("quality")
