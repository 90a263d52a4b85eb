"""reports: consumer_reports (reports filed from the stamp page for inspectors)

Revision ID: reports_0001
Revises: (none)
Create Date: 2026-11-29 18:20:00
"""

import sqlalchemy as sa
from alembic import op

import scanapp.db

revision = "reports_0001"
down_revision = None
branch_labels = ("reports",)
# No foreign keys (a report may name a code no table knows); ordered after the scan tables
# whose rows it copies the place and time from.
depends_on = ("scan_0002",)

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "consumer_reports",
        sa.Column("id", BigId, nullable=False),
        sa.Column("created_at", scanapp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("code", sa.String(length=512), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=True),
        sa.Column("lot", sa.String(length=20), nullable=True),
        sa.Column("serial", sa.String(length=20), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("problem", sa.String(length=20), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("where_bought", sa.String(length=300), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("scan_id", BigId, nullable=True),
        sa.Column("scanned_at", scanapp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("province", sa.String(length=2), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("device_hash", sa.String(length=32), nullable=True),
        sa.Column("client_hash", sa.String(length=32), nullable=True),
        sa.Column("photo", sa.LargeBinary(), nullable=True),
        sa.Column("photo_type", sa.String(length=32), nullable=True),
        sa.Column("photo_width", sa.Integer(), nullable=True),
        sa.Column("photo_height", sa.Integer(), nullable=True),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consumer_reports_created_at", "consumer_reports", ["created_at"])
    op.create_index("ix_consumer_reports_province_created_at", "consumer_reports",
                    ["province", "created_at"])
    op.create_index("ix_consumer_reports_serial", "consumer_reports", ["serial"])


def downgrade() -> None:
    op.drop_table("consumer_reports")
