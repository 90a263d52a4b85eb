"""scan: scan_events (system of record of every scan) and scan_pin_checks

Revision ID: scan_0001
Revises: (none)
Create Date: 2026-11-25 02:40:00
"""

import sqlalchemy as sa
from alembic import op

import scanapp.db

revision = "scan_0001"
down_revision = None
branch_labels = ("scan",)
# No foreign keys to other tables; ordered after core so `db upgrade` reads naturally.
depends_on = ("core_0001",)

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "scan_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("scanned_at", scanapp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=True),
        sa.Column("range_id", sa.Integer(), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("risk", sa.SmallInteger(), nullable=False),
        sa.Column("scan_no", sa.Integer(), nullable=True),
        sa.Column("province", sa.String(length=2), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("cell", sa.String(length=16), nullable=True),
        sa.Column("device_hash", sa.String(length=32), nullable=True),
        sa.Column("client_hash", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("degraded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_events")),
    )
    op.create_index("ix_scan_events_serial_scanned_at", "scan_events", ["serial", "scanned_at"])
    op.create_index("ix_scan_events_scanned_at", "scan_events", ["scanned_at"])
    op.create_index("ix_scan_events_province_scanned_at", "scan_events", ["province", "scanned_at"])

    op.create_table(
        "scan_pin_checks",
        sa.Column("id", BigId, nullable=False),
        sa.Column("checked_at", scanapp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("device_hash", sa.String(length=32), nullable=True),
        sa.Column("client_hash", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_pin_checks")),
    )
    op.create_index("ix_scan_pin_checks_serial_checked_at", "scan_pin_checks",
                    ["serial", "checked_at"])


def downgrade() -> None:
    op.drop_index("ix_scan_pin_checks_serial_checked_at", table_name="scan_pin_checks")
    op.drop_table("scan_pin_checks")
    op.drop_index("ix_scan_events_province_scanned_at", table_name="scan_events")
    op.drop_index("ix_scan_events_scanned_at", table_name="scan_events")
    op.drop_index("ix_scan_events_serial_scanned_at", table_name="scan_events")
    op.drop_table("scan_events")
