"""trace: parties, locations, certificates, lots, lineage, lot events; product trace columns

Existing organisations become parties (one each, linked by org_id), and the one
trace_state row (the scan summary cache's version) is created.

Revision ID: trace_0001
Revises: (none; own branch)
Depends on: core_0001 (organisations, products), serials_0001 (serial_ranges),
epcis_0001 (epcis_events)
"""

import sqlalchemy as sa
from alembic import op

import scanapp.db

revision = 'trace_0001'
down_revision = None
branch_labels = ('trace',)
depends_on = ['core_0001', 'serials_0001', 'epcis_0001']


def upgrade() -> None:
    op.create_table('trace_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('changed_at', scanapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace_state'))
    )
    op.create_table('trace_certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('scheme', sa.String(length=30), nullable=False),
    sa.Column('stars', sa.Integer(), nullable=True),
    sa.Column('number', sa.String(length=100), nullable=False),
    sa.Column('issuer', sa.String(length=300), nullable=False),
    sa.Column('subject_type', sa.String(length=10), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('document_url', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('revoked_at', scanapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', scanapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_trace_certificates_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace_certificates'))
    )
    with op.batch_alter_table('trace_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_certificates_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_trace_certificates_subject', ['subject_type', 'subject_id'], unique=False)

    op.create_table('trace_parties',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('tax_code', sa.String(length=14), nullable=True),
    sa.Column('gln', sa.String(length=13), nullable=True),
    sa.Column('address', sa.String(length=500), nullable=True),
    sa.Column('province', sa.String(length=2), nullable=True),
    sa.Column('contact_name', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('created_at', scanapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', scanapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_trace_parties_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace_parties')),
    sa.UniqueConstraint('gln', name=op.f('uq_trace_parties_gln')),
    sa.UniqueConstraint('tax_code', name=op.f('uq_trace_parties_tax_code'))
    )
    with op.batch_alter_table('trace_parties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_parties_org_id'), ['org_id'], unique=False)

    op.create_table('trace_locations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=False),
    sa.Column('gln', sa.String(length=13), nullable=False),
    sa.Column('extension', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('planting_area_code', sa.String(length=50), nullable=True),
    sa.Column('address', sa.String(length=500), nullable=True),
    sa.Column('province', sa.String(length=2), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('created_at', scanapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', scanapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['party_id'], ['trace_parties.id'], name=op.f('fk_trace_locations_party_id_trace_parties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace_locations')),
    sa.UniqueConstraint('gln', 'extension', name='uq_trace_locations_sgln')
    )
    with op.batch_alter_table('trace_locations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_locations_party_id'), ['party_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_locations_planting_area_code'), ['planting_area_code'], unique=False)

    op.create_table('trace_partners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_org_id', sa.Integer(), nullable=False),
    sa.Column('partner_org_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('created_at', scanapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', scanapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['brand_org_id'], ['organisations.id'], name=op.f('fk_trace_partners_brand_org_id_organisations')),
    sa.ForeignKeyConstraint(['partner_org_id'], ['organisations.id'], name=op.f('fk_trace_partners_partner_org_id_organisations')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_trace_partners_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace_partners'))
    )
    with op.batch_alter_table('trace_partners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_partners_brand_org_id'), ['brand_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_partners_partner_org_id'), ['partner_org_id'], unique=False)

    op.create_table('trace_lots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('gtin', sa.String(length=14), nullable=False),
    sa.Column('lot', sa.String(length=20), nullable=False),
    sa.Column('production_date', sa.Date(), nullable=True),
    sa.Column('harvest_start', sa.Date(), nullable=True),
    sa.Column('harvest_end', sa.Date(), nullable=True),
    sa.Column('expiry_date', sa.Date(), nullable=True),
    sa.Column('best_before', sa.Date(), nullable=True),
    sa.Column('quantity', sa.Numeric(precision=18, scale=3), nullable=True),
    sa.Column('unit', sa.String(length=10), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('party_id', sa.Integer(), nullable=True),
    sa.Column('created_by_org_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('recall_reason', sa.String(length=500), nullable=True),
    sa.Column('recalled_at', scanapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('recalled_by_org_id', sa.Integer(), nullable=True),
    sa.Column('recall_root_id', sa.Integer(), nullable=True),
    sa.Column('created_at', scanapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', scanapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity IS NULL OR quantity >= 0', name=op.f('ck_trace_lots_quantity_not_negative')),
    sa.ForeignKeyConstraint(['created_by_org_id'], ['organisations.id'], name=op.f('fk_trace_lots_created_by_org_id_organisations')),
    sa.ForeignKeyConstraint(['location_id'], ['trace_locations.id'], name=op.f('fk_trace_lots_location_id_trace_locations')),
    sa.ForeignKeyConstraint(['party_id'], ['trace_parties.id'], name=op.f('fk_trace_lots_party_id_trace_parties')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_trace_lots_product_id_products')),
    sa.ForeignKeyConstraint(['recalled_by_org_id'], ['organisations.id'], name=op.f('fk_trace_lots_recalled_by_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace_lots')),
    sa.UniqueConstraint('gtin', 'lot', name='uq_trace_lots_gtin_lot')
    )
    with op.batch_alter_table('trace_lots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_lots_created_by_org_id'), ['created_by_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_lots_location_id'), ['location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_lots_party_id'), ['party_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_lots_product_id'), ['product_id'], unique=False)

    op.create_table('trace_lineage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('input_lot_id', sa.Integer(), nullable=False),
    sa.Column('output_lot_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=18, scale=3), nullable=True),
    sa.Column('unit', sa.String(length=10), nullable=True),
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('event_pk', sa.BigInteger(), nullable=True),
    sa.Column('event_time', scanapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', scanapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('input_lot_id <> output_lot_id', name=op.f('ck_trace_lineage_not_self')),
    sa.ForeignKeyConstraint(['event_pk'], ['epcis_events.id'], name=op.f('fk_trace_lineage_event_pk_epcis_events')),
    sa.ForeignKeyConstraint(['input_lot_id'], ['trace_lots.id'], name=op.f('fk_trace_lineage_input_lot_id_trace_lots')),
    sa.ForeignKeyConstraint(['output_lot_id'], ['trace_lots.id'], name=op.f('fk_trace_lineage_output_lot_id_trace_lots')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace_lineage')),
    sa.UniqueConstraint('input_lot_id', 'output_lot_id', 'event_id', name='uq_trace_lineage_edge')
    )
    with op.batch_alter_table('trace_lineage', schema=None) as batch_op:
        batch_op.create_index('ix_trace_lineage_input', ['input_lot_id', 'output_lot_id'], unique=False)
        batch_op.create_index('ix_trace_lineage_output', ['output_lot_id', 'input_lot_id'], unique=False)

    op.create_table('trace_lot_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('event_pk', sa.BigInteger(), nullable=True),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('biz_step', sa.String(length=40), nullable=True),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('event_time', scanapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('source_party_id', sa.Integer(), nullable=True),
    sa.Column('source_location_id', sa.Integer(), nullable=True),
    sa.Column('dest_party_id', sa.Integer(), nullable=True),
    sa.Column('dest_location_id', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Numeric(precision=18, scale=3), nullable=True),
    sa.Column('unit', sa.String(length=10), nullable=True),
    sa.Column('document', sa.String(length=200), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['dest_location_id'], ['trace_locations.id'], name=op.f('fk_trace_lot_events_dest_location_id_trace_locations')),
    sa.ForeignKeyConstraint(['dest_party_id'], ['trace_parties.id'], name=op.f('fk_trace_lot_events_dest_party_id_trace_parties')),
    sa.ForeignKeyConstraint(['event_pk'], ['epcis_events.id'], name=op.f('fk_trace_lot_events_event_pk_epcis_events')),
    sa.ForeignKeyConstraint(['location_id'], ['trace_locations.id'], name=op.f('fk_trace_lot_events_location_id_trace_locations')),
    sa.ForeignKeyConstraint(['lot_id'], ['trace_lots.id'], name=op.f('fk_trace_lot_events_lot_id_trace_lots')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_trace_lot_events_org_id_organisations')),
    sa.ForeignKeyConstraint(['source_location_id'], ['trace_locations.id'], name=op.f('fk_trace_lot_events_source_location_id_trace_locations')),
    sa.ForeignKeyConstraint(['source_party_id'], ['trace_parties.id'], name=op.f('fk_trace_lot_events_source_party_id_trace_parties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace_lot_events')),
    sa.UniqueConstraint('lot_id', 'event_id', 'role', name='uq_trace_lot_events_once')
    )
    with op.batch_alter_table('trace_lot_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_lot_events_dest_party_id'), ['dest_party_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_lot_events_event_id'), ['event_id'], unique=False)
        batch_op.create_index('ix_trace_lot_events_lot_time', ['lot_id', 'event_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_lot_events_org_id'), ['org_id'], unique=False)

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('standards', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('category', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('country_of_origin', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('unit', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('shelf_life_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('consumer_hotline', sa.String(length=30), nullable=True))

    with op.batch_alter_table('serial_ranges', schema=None) as batch_op:
        batch_op.create_index('ix_serial_ranges_gtin_lot', ['gtin', 'lot'], unique=False)

    op.execute("INSERT INTO trace_parties (org_id, name, created_at, updated_at) "
               "SELECT id, name, created_at, created_at FROM organisations")
    op.execute(sa.text("INSERT INTO trace_state (id, version, changed_at) "
                       "VALUES (1, 0, CURRENT_TIMESTAMP)"))



def downgrade() -> None:
    with op.batch_alter_table('serial_ranges', schema=None) as batch_op:
        batch_op.drop_index('ix_serial_ranges_gtin_lot')

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('consumer_hotline')
        batch_op.drop_column('shelf_life_days')
        batch_op.drop_column('unit')
        batch_op.drop_column('country_of_origin')
        batch_op.drop_column('category')
        batch_op.drop_column('standards')

    with op.batch_alter_table('trace_lot_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_lot_events_org_id'))
        batch_op.drop_index('ix_trace_lot_events_lot_time')
        batch_op.drop_index(batch_op.f('ix_trace_lot_events_event_id'))
        batch_op.drop_index(batch_op.f('ix_trace_lot_events_dest_party_id'))

    op.drop_table('trace_lot_events')
    with op.batch_alter_table('trace_lineage', schema=None) as batch_op:
        batch_op.drop_index('ix_trace_lineage_output')
        batch_op.drop_index('ix_trace_lineage_input')

    op.drop_table('trace_lineage')
    with op.batch_alter_table('trace_lots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_lots_product_id'))
        batch_op.drop_index(batch_op.f('ix_trace_lots_party_id'))
        batch_op.drop_index(batch_op.f('ix_trace_lots_location_id'))
        batch_op.drop_index(batch_op.f('ix_trace_lots_created_by_org_id'))

    op.drop_table('trace_lots')
    with op.batch_alter_table('trace_partners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_partners_partner_org_id'))
        batch_op.drop_index(batch_op.f('ix_trace_partners_brand_org_id'))

    op.drop_table('trace_partners')
    with op.batch_alter_table('trace_locations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_locations_planting_area_code'))
        batch_op.drop_index(batch_op.f('ix_trace_locations_party_id'))

    op.drop_table('trace_locations')
    with op.batch_alter_table('trace_parties', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_parties_org_id'))

    op.drop_table('trace_parties')
    with op.batch_alter_table('trace_certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_trace_certificates_subject')
        batch_op.drop_index(batch_op.f('ix_trace_certificates_org_id'))

    op.drop_table('trace_certificates')
    op.drop_table('trace_state')
