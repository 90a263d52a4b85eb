"""epcis: partial index of unsent outbox rows (replaces the (sent_at, next_attempt_at) index)

Pushers look for unsent rows in id order; with the old index they walked every row ever
delivered first, so each batch got slower as the outbox grew.

Revision ID: epcis_0002
Revises: epcis_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "epcis_0002"
down_revision = "epcis_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("epcis_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_epcis_outbox_pending")
    op.create_index("ix_epcis_outbox_unsent", "epcis_outbox", ["id"],
                    postgresql_where=sa.text("sent_at IS NULL"),
                    sqlite_where=sa.text("sent_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_epcis_outbox_unsent", table_name="epcis_outbox")
    with op.batch_alter_table("epcis_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_epcis_outbox_pending", ["sent_at", "next_attempt_at"])
