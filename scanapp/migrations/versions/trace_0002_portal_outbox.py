"""trace: the National Traceability Portal outbox (one pending row per lot)

Revision ID: trace_0002
Revises: trace_0001
"""

import sqlalchemy as sa
from alembic import op

import scanapp.db

revision = "trace_0002"
down_revision = "trace_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trace_portal_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("created_at", scanapp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", scanapp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", scanapp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("sent_at", scanapp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["lot_id"], ["trace_lots.id"],
                                name=op.f("fk_trace_portal_outbox_lot_id_trace_lots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_portal_outbox")),
    )
    op.create_index("ix_trace_portal_outbox_unsent", "trace_portal_outbox", ["id"],
                    postgresql_where=sa.text("sent_at IS NULL"),
                    sqlite_where=sa.text("sent_at IS NULL"))
    op.create_index("uq_trace_portal_outbox_pending_lot", "trace_portal_outbox", ["lot_id"],
                    unique=True, postgresql_where=sa.text("sent_at IS NULL"),
                    sqlite_where=sa.text("sent_at IS NULL"))


def downgrade() -> None:
    op.drop_index("uq_trace_portal_outbox_pending_lot", table_name="trace_portal_outbox")
    op.drop_index("ix_trace_portal_outbox_unsent", table_name="trace_portal_outbox")
    op.drop_table("trace_portal_outbox")
