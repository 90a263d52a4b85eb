"""serials: code file checksums computed once and kept

Revision ID: serials_0002
Revises: serials_0001
"""

import sqlalchemy as sa
from alembic import op

import scanapp.db

revision = "serials_0002"
down_revision = "serials_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "code_checksums",
        sa.Column("range_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("computed_at", scanapp.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["range_id"], ["serial_ranges.id"],
                                name=op.f("fk_code_checksums_range_id_serial_ranges")),
        sa.PrimaryKeyConstraint("range_id", "identity", name=op.f("pk_code_checksums")),
    )


def downgrade() -> None:
    op.drop_table("code_checksums")
