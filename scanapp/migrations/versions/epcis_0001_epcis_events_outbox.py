"""epcis: events, delivery outbox, scan-aggregation ledger

Revision ID: epcis_0001
Revises: (none; own branch)
Depends on: core_0001 (organisations)
"""

import sqlalchemy as sa
from alembic import op

import scanapp.db

revision = "epcis_0001"
down_revision = None
branch_labels = ("epcis",)
depends_on = ("core_0001",)

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "epcis_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("biz_step", sa.String(length=40), nullable=True),
        sa.Column("disposition", sa.String(length=40), nullable=True),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("brand_org_id", sa.Integer(), nullable=True),
        sa.Column("printer_org_id", sa.Integer(), nullable=True),
        sa.Column("range_id", sa.BigInteger(), nullable=True),
        sa.Column("event_time", scanapp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("record_time", scanapp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["brand_org_id"], ["organisations.id"],
                                name=op.f("fk_epcis_events_brand_org_id_organisations")),
        sa.ForeignKeyConstraint(["printer_org_id"], ["organisations.id"],
                                name=op.f("fk_epcis_events_printer_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epcis_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_epcis_events_event_id")),
    )
    with op.batch_alter_table("epcis_events", schema=None) as batch_op:
        batch_op.create_index("ix_epcis_events_brand_org_id_id", ["brand_org_id", "id"])
        batch_op.create_index("ix_epcis_events_gtin_event_time", ["gtin", "event_time"])
        batch_op.create_index(batch_op.f("ix_epcis_events_event_time"), ["event_time"])
        batch_op.create_index(batch_op.f("ix_epcis_events_printer_org_id"), ["printer_org_id"])

    op.create_table(
        "epcis_outbox",
        sa.Column("id", BigId, nullable=False),
        sa.Column("event_pk", sa.BigInteger(), nullable=False),
        sa.Column("created_at", scanapp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", scanapp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", scanapp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("sent_at", scanapp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["event_pk"], ["epcis_events.id"],
                                name=op.f("fk_epcis_outbox_event_pk_epcis_events")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epcis_outbox")),
        sa.UniqueConstraint("event_pk", name=op.f("uq_epcis_outbox_event_pk")),
    )
    with op.batch_alter_table("epcis_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_epcis_outbox_pending", ["sent_at", "next_attempt_at"])

    op.create_table(
        "epcis_scan_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("aggregated_at", scanapp.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_epcis_scan_days")),
    )


def downgrade() -> None:
    op.drop_table("epcis_scan_days")
    with op.batch_alter_table("epcis_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_epcis_outbox_pending")
    op.drop_table("epcis_outbox")
    with op.batch_alter_table("epcis_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_epcis_events_printer_org_id"))
        batch_op.drop_index(batch_op.f("ix_epcis_events_event_time"))
        batch_op.drop_index("ix_epcis_events_gtin_event_time")
        batch_op.drop_index("ix_epcis_events_brand_org_id_id")
    op.drop_table("epcis_events")
