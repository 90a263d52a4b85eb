"""epcis: the identifier index without its foreign key to epcis_events

``epcis_event_identifiers`` is a derived index of the events' bodies (about eight rows an
event), written only by the capture and the recorder in the event's own transaction, right
after the event, and never deleted apart from it (events are never deleted). PostgreSQL ran
the foreign-key check for every row: measured, 28 of 138 us of PostgreSQL CPU per captured
event (docs/EPCIS.md, "Capture throughput").

Revision ID: epcis_0004
Revises: epcis_0003
"""

from alembic import op

revision = "epcis_0004"
down_revision = "epcis_0003"
branch_labels = None
depends_on = None

FK = "fk_epcis_event_identifiers_event_pk_epcis_events"


def upgrade() -> None:
    with op.batch_alter_table("epcis_event_identifiers", schema=None) as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")


def downgrade() -> None:
    # Rows of events deleted while there was no constraint would stop it being created.
    op.execute("DELETE FROM epcis_event_identifiers WHERE event_pk NOT IN "
               "(SELECT id FROM epcis_events)")
    with op.batch_alter_table("epcis_event_identifiers", schema=None) as batch_op:
        batch_op.create_foreign_key(FK, "epcis_events", ["event_pk"], ["id"],
                                    ondelete="CASCADE")
