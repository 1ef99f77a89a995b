"""Document vectors for nearest-neighbour candidates; fact counts per day for their weights.

Revision ID: 0010
Revises: 0009

`vectors`: one embedding per processed document (float16 bytes), in the
order recorded (`seq`): the vector search scans the newest rows only.
`fact_counts`: how many documents recorded on a day (`day`, the proleptic
Gregorian ordinal) carry each fact key; the key `*` counts the documents.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vectors",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_vectors_document_id", "vectors", ["document_id"], unique=True)
    op.create_table(
        "fact_counts",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "day"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("fact_counts")
    op.drop_index("ix_vectors_document_id", table_name="vectors")
    op.drop_table("vectors")
