"""epcis: captured events (source, capturing org, nullable gtin/action), identifier index,
capture jobs

The EPCIS 2.0 binding stores events other systems send next to scanapp's own: an event may
name several GTINs or none (gtin nullable), a TransformationEvent has no action, bizStep and
disposition may come from another vocabulary (full URIs), and eventIDs from other systems can
be longer than ours. The identifier index answers MATCH_epc and friends without reading
bodies.

Revision ID: epcis_0003
Revises: epcis_0002
"""

import sqlalchemy as sa
from alembic import op

import scanapp.db

revision = "epcis_0003"
down_revision = "epcis_0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("epcis_events", schema=None) as batch_op:
        batch_op.alter_column("event_id", existing_type=sa.String(length=100),
                              type_=sa.String(length=255), existing_nullable=False)
        batch_op.alter_column("action", existing_type=sa.String(length=8), nullable=True)
        batch_op.alter_column("biz_step", existing_type=sa.String(length=40),
                              type_=sa.String(length=255), existing_nullable=True)
        batch_op.alter_column("disposition", existing_type=sa.String(length=40),
                              type_=sa.String(length=255), existing_nullable=True)
        batch_op.alter_column("gtin", existing_type=sa.String(length=14), nullable=True)
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=False,
                                      server_default="scanapp"))
        batch_op.add_column(sa.Column("captured_by_org_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_epcis_events_captured_by_org_id_organisations"), "organisations",
            ["captured_by_org_id"], ["id"])
        batch_op.create_index("ix_epcis_events_captured_by_org_id_id",
                              ["captured_by_org_id", "id"])

    op.create_table(
        "epcis_event_identifiers",
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("event_pk", sa.BigInteger(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=True),
        sa.ForeignKeyConstraint(["event_pk"], ["epcis_events.id"], ondelete="CASCADE",
                                name=op.f("fk_epcis_event_identifiers_event_pk_epcis_events")),
        sa.PrimaryKeyConstraint("identifier", "role", "event_pk",
                                name="pk_epcis_event_identifiers"),
    )
    op.create_index("ix_epcis_event_identifiers_event_pk", "epcis_event_identifiers",
                    ["event_pk"])
    op.create_index("ix_epcis_event_identifiers_gtin_event_pk", "epcis_event_identifiers",
                    ["gtin", "event_pk"])

    op.create_table(
        "epcis_capture_jobs",
        sa.Column("id", BigId, nullable=False),
        sa.Column("capture_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", scanapp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", scanapp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("running", sa.Boolean(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error_behaviour", sa.String(length=8), nullable=False),
        sa.Column("events_received", sa.Integer(), nullable=False),
        sa.Column("events_stored", sa.Integer(), nullable=False),
        sa.Column("events_already_stored", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"],
                                name=op.f("fk_epcis_capture_jobs_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epcis_capture_jobs")),
        sa.UniqueConstraint("capture_id", name=op.f("uq_epcis_capture_jobs_capture_id")),
    )
    op.create_index("ix_epcis_capture_jobs_org_id_created_at", "epcis_capture_jobs",
                    ["org_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_epcis_capture_jobs_org_id_created_at", table_name="epcis_capture_jobs")
    op.drop_table("epcis_capture_jobs")
    op.drop_index("ix_epcis_event_identifiers_gtin_event_pk",
                  table_name="epcis_event_identifiers")
    op.drop_index("ix_epcis_event_identifiers_event_pk", table_name="epcis_event_identifiers")
    op.drop_table("epcis_event_identifiers")
    # Captured events do not fit the narrower columns: they go with the binding.
    op.execute("DELETE FROM epcis_outbox WHERE event_pk IN "
               "(SELECT id FROM epcis_events WHERE source <> 'scanapp')")
    op.execute("DELETE FROM epcis_events WHERE source <> 'scanapp'")
    with op.batch_alter_table("epcis_events", schema=None) as batch_op:
        batch_op.drop_index("ix_epcis_events_captured_by_org_id_id")
        batch_op.drop_constraint(batch_op.f("fk_epcis_events_captured_by_org_id_organisations"),
                                 type_="foreignkey")
        batch_op.drop_column("captured_by_org_id")
        batch_op.drop_column("source")
        batch_op.alter_column("gtin", existing_type=sa.String(length=14), nullable=False)
        batch_op.alter_column("disposition", existing_type=sa.String(length=255),
                              type_=sa.String(length=40), existing_nullable=True)
        batch_op.alter_column("biz_step", existing_type=sa.String(length=255),
                              type_=sa.String(length=40), existing_nullable=True)
        batch_op.alter_column("action", existing_type=sa.String(length=8), nullable=False)
        batch_op.alter_column("event_id", existing_type=sa.String(length=255),
                              type_=sa.String(length=100), existing_nullable=False)
