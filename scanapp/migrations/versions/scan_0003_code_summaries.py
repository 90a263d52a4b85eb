"""scan: scan_code_summaries, each code's scan state in one row (kept by the scan sink)

Revision ID: scan_0003
Revises: scan_0002
Create Date: 2026-11-29 21:30:00

Redis loads a code's state from this row after a flush, an idle expiry or an outage, and
the database state store answers from it, instead of reading the code's scan history
(docs/SCAN.md "Recovery and retention"). The upgrade fills it from the existing
scan_events/scan_pin_checks rows (summary.backfill, one pass in serial order); stop the
scan path during the upgrade. `flask --app scanapp scan backfill-summaries` runs the same
fill again (after a restore).
"""

import sqlalchemy as sa
from alembic import op

import scanapp.db

revision = "scan_0003"
down_revision = "scan_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scan_code_summaries",
        sa.Column("serial", sa.String(20), nullable=False),
        sa.Column("scans", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("capped_scans", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("device_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("network_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("first_scan", sa.String(200), nullable=True),
        sa.Column("last_scan_at", scanapp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recent", sa.JSON(), nullable=False),
        sa.Column("devices", sa.JSON(), nullable=False),
        sa.Column("networks", sa.JSON(), nullable=False),
        sa.Column("pin_claims", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("pin_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("pin_claimers", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_scan_code_summaries")),
    )
    from scanapp.scan.summary import backfill

    backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("scan_code_summaries")
