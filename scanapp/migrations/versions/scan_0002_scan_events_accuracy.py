"""scan: scan_events.accuracy_m, the phone's reported accuracy radius

Revision ID: scan_0002
Revises: scan_0001
Create Date: 2026-11-25 02:55:00

The fraud rules discount coarse position fixes (cell towers, IP) so that they never read
as impossible travel; that needs the accuracy of past scans too, after a Redis rebuild.
"""

import sqlalchemy as sa
from alembic import op

revision = "scan_0002"
down_revision = "scan_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scan_events") as batch_op:
        batch_op.add_column(sa.Column("accuracy_m", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scan_events") as batch_op:
        batch_op.drop_column("accuracy_m")
