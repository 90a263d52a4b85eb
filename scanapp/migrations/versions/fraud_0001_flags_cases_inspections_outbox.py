"""fraud: flags with their case fields, case audit trail, field inspections, webhook outbox

Revision ID: fraud_0001
Revises: (none)
Create Date: 2026-11-25 02:50:00
"""

import sqlalchemy as sa
from alembic import op

import scanapp.db

revision = 'fraud_0001'
down_revision = None
branch_labels = ('fraud',)
depends_on = ('core_0001',)

UTC = scanapp.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'fraud_flags',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('serial', sa.String(length=20), nullable=False),
        sa.Column('gtin', sa.String(length=14), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('brand_org_id', sa.Integer(), nullable=True),
        sa.Column('range_id', sa.Integer(), nullable=True),
        sa.Column('risk', sa.Integer(), nullable=False),
        sa.Column('reasons', sa.JSON(), nullable=False),
        sa.Column('province', sa.String(length=2), nullable=True),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('assignee', sa.String(length=200), nullable=True),
        sa.Column('escalations', sa.Integer(), nullable=False),
        sa.Column('first_scan_event_id', sa.Integer(), nullable=True),
        sa.Column('last_scan_event_id', sa.Integer(), nullable=True),
        sa.Column('raised_at', UTC, nullable=False),
        sa.Column('updated_at', UTC, nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_fraud_flags_product_id_products')),
        sa.ForeignKeyConstraint(['brand_org_id'], ['organisations.id'], name=op.f('fk_fraud_flags_brand_org_id_organisations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fraud_flags')),
        sa.UniqueConstraint('serial', name=op.f('uq_fraud_flags_serial')),
    )
    op.create_index('ix_fraud_flags_gtin', 'fraud_flags', ['gtin'])
    op.create_index('ix_fraud_flags_brand_org_id', 'fraud_flags', ['brand_org_id'])
    op.create_index('ix_fraud_flags_province', 'fraud_flags', ['province'])
    op.create_index('ix_fraud_flags_raised_at', 'fraud_flags', ['raised_at'])
    op.create_index('ix_fraud_flags_status_risk', 'fraud_flags', ['status', 'risk'])

    op.create_table(
        'fraud_case_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('flag_id', sa.Integer(), nullable=False),
        sa.Column('at', UTC, nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('actor_org_id', sa.Integer(), nullable=True),
        sa.Column('actor_key_id', sa.Integer(), nullable=True),
        sa.Column('from_status', sa.String(length=32), nullable=True),
        sa.Column('to_status', sa.String(length=32), nullable=True),
        sa.Column('assignee', sa.String(length=200), nullable=True),
        sa.Column('risk', sa.Integer(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['flag_id'], ['fraud_flags.id'], name=op.f('fk_fraud_case_events_flag_id_fraud_flags')),
        sa.ForeignKeyConstraint(['actor_org_id'], ['organisations.id'], name=op.f('fk_fraud_case_events_actor_org_id_organisations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fraud_case_events')),
    )
    op.create_index('ix_fraud_case_events_flag_id', 'fraud_case_events', ['flag_id'])

    op.create_table(
        'fraud_inspections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('serial', sa.String(length=20), nullable=False),
        sa.Column('gtin', sa.String(length=14), nullable=False),
        sa.Column('flag_id', sa.Integer(), nullable=True),
        sa.Column('inspector_org_id', sa.Integer(), nullable=False),
        sa.Column('inspector_key_id', sa.Integer(), nullable=True),
        sa.Column('at', UTC, nullable=False),
        sa.Column('finding', sa.String(length=32), nullable=False),
        sa.Column('province', sa.String(length=2), nullable=True),
        sa.Column('lat', sa.Float(), nullable=True),
        sa.Column('lon', sa.Float(), nullable=True),
        sa.Column('place', sa.String(length=300), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['flag_id'], ['fraud_flags.id'], name=op.f('fk_fraud_inspections_flag_id_fraud_flags')),
        sa.ForeignKeyConstraint(['inspector_org_id'], ['organisations.id'], name=op.f('fk_fraud_inspections_inspector_org_id_organisations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fraud_inspections')),
    )
    op.create_index('ix_fraud_inspections_serial', 'fraud_inspections', ['serial'])

    op.create_table(
        'webhook_outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.String(length=40), nullable=False),
        sa.Column('event_type', sa.String(length=40), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('created_at', UTC, nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UTC, nullable=False),
        sa.Column('locked_until', UTC, nullable=True),
        sa.Column('delivered_at', UTC, nullable=True),
        sa.Column('failed_at', UTC, nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_webhook_outbox_org_id_organisations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_outbox')),
        sa.UniqueConstraint('event_id', name=op.f('uq_webhook_outbox_event_id')),
    )
    op.create_index('ix_webhook_outbox_org_id', 'webhook_outbox', ['org_id'])
    op.create_index('ix_webhook_outbox_due', 'webhook_outbox', ['delivered_at', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_table('webhook_outbox')
    op.drop_table('fraud_inspections')
    op.drop_table('fraud_case_events')
    op.drop_table('fraud_flags')
