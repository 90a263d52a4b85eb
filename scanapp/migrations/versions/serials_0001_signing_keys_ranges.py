"""serials: signing keys, sequence counter, ranges, overrides, transitions

Revision ID: serials_0001
Revises: (none; own branch)
Depends on: core_0001 (organisations, products)
"""

import sqlalchemy as sa
from alembic import op

import scanapp.db

revision = "serials_0001"
down_revision = None
branch_labels = ("serials",)
depends_on = ("core_0001",)

UTC = scanapp.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("retired_at", UTC, nullable=True),
        sa.Column("compromised_at", UTC, nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "serial_counter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("next_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serial_counter")),
    )
    op.create_table(
        "serial_ranges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=True),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("start_seq", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("market_regions", sa.JSON(), nullable=False),
        sa.Column("pin_enabled", sa.Boolean(), nullable=False),
        sa.Column("brand_org_id", sa.Integer(), nullable=False),
        sa.Column("printer_org_id", sa.Integer(), nullable=True),
        sa.Column("requested_by_org_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_key_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                                name=op.f("fk_serial_ranges_product_id_products")),
        sa.ForeignKeyConstraint(["brand_org_id"], ["organisations.id"],
                                name=op.f("fk_serial_ranges_brand_org_id_organisations")),
        sa.ForeignKeyConstraint(["printer_org_id"], ["organisations.id"],
                                name=op.f("fk_serial_ranges_printer_org_id_organisations")),
        sa.ForeignKeyConstraint(["requested_by_org_id"], ["organisations.id"],
                                name=op.f("fk_serial_ranges_requested_by_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serial_ranges")),
        sa.UniqueConstraint("start_seq", name=op.f("uq_serial_ranges_start_seq")),
        sa.UniqueConstraint("requested_by_org_id", "idempotency_key",
                            name="uq_serial_ranges_idempotency"),
    )
    op.create_index("ix_serial_ranges_product_id", "serial_ranges", ["product_id"])
    op.create_index("ix_serial_ranges_brand_org_id", "serial_ranges", ["brand_org_id"])
    op.create_index("ix_serial_ranges_printer_org_id", "serial_ranges", ["printer_org_id"])
    op.create_index("ix_serial_ranges_updated_at", "serial_ranges", ["updated_at"])
    op.create_table(
        "range_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("range_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("code_count", sa.BigInteger(), nullable=True),
        sa.Column("serials", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("actor_org_id", sa.Integer(), nullable=False),
        sa.Column("actor_key_id", sa.Integer(), nullable=True),
        sa.Column("at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["range_id"], ["serial_ranges.id"],
                                name=op.f("fk_range_transitions_range_id_serial_ranges")),
        sa.ForeignKeyConstraint(["actor_org_id"], ["organisations.id"],
                                name=op.f("fk_range_transitions_actor_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_range_transitions")),
    )
    op.create_index("ix_range_transitions_range_id", "range_transitions", ["range_id"])
    op.create_table(
        "serial_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("range_id", sa.Integer(), nullable=False),
        sa.Column("start_seq", sa.BigInteger(), nullable=False),
        sa.Column("end_seq", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("transition_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["range_id"], ["serial_ranges.id"],
                                name=op.f("fk_serial_overrides_range_id_serial_ranges")),
        sa.ForeignKeyConstraint(["transition_id"], ["range_transitions.id"],
                                name=op.f("fk_serial_overrides_transition_id_range_transitions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serial_overrides")),
    )
    op.create_index("ix_serial_overrides_range_id", "serial_overrides", ["range_id"])


def downgrade() -> None:
    op.drop_index("ix_serial_overrides_range_id", table_name="serial_overrides")
    op.drop_table("serial_overrides")
    op.drop_index("ix_range_transitions_range_id", table_name="range_transitions")
    op.drop_table("range_transitions")
    for name in ("updated_at", "printer_org_id", "brand_org_id", "product_id"):
        op.drop_index(f"ix_serial_ranges_{name}", table_name="serial_ranges")
    op.drop_table("serial_ranges")
    op.drop_table("serial_counter")
    op.drop_table("signing_keys")
