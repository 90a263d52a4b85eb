"""authority: scopes, review items and log, province policies, findings; trace_withheld

``trace_withheld`` is trace's publication filter (scanapp/trace/publication.py); it is made
here because the review workflow that fills it lives on this branch.

Revision ID: authority_0001
Revises: (none; own branch)
Depends on: core_0001, trace_0002, fraud_0001
"""

import sqlalchemy as sa
from alembic import op

import scanapp.db

revision = "authority_0001"
down_revision = None
branch_labels = ("authority",)
depends_on = ["core_0001", "trace_0002", "fraud_0001"]

T = scanapp.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "trace_withheld",
        sa.Column("subject_type", sa.String(12), primary_key=True),
        sa.Column("subject_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("since", T, nullable=False))
    op.create_table(
        "authority_scopes",
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organisations.id"), primary_key=True,
                  autoincrement=False),
        sa.Column("province", sa.String(2), nullable=True),
        sa.Column("created_at", T, nullable=False))
    op.create_table(
        "authority_policies",
        sa.Column("province", sa.String(2), primary_key=True),
        sa.Column("review_enabled", sa.Boolean(), nullable=False),
        sa.Column("trusted_categories", sa.JSON(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("plan", sa.String(200), nullable=True),
        sa.Column("updated_at", T, nullable=False))
    op.create_table(
        "authority_review_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subject_type", sa.String(12), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("province", sa.String(2), nullable=False),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("submitted_at", T, nullable=False),
        sa.Column("decided_at", T, nullable=True),
        sa.Column("decided_by_org_id", sa.Integer(), sa.ForeignKey("organisations.id"),
                  nullable=True),
        sa.UniqueConstraint("subject_type", "subject_id", name="uq_authority_review_subject"))
    op.create_index("ix_authority_review_province_state", "authority_review_items",
                    ["province", "state"])
    op.create_index("ix_authority_review_items_org_id", "authority_review_items", ["org_id"])
    op.create_table(
        "authority_review_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("authority_review_items.id"),
                  nullable=False),
        sa.Column("at", T, nullable=False),
        sa.Column("action", sa.String(12), nullable=False),
        sa.Column("actor_org_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=True),
        sa.Column("actor_key_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True))
    op.create_index("ix_authority_review_log_item_id", "authority_review_log", ["item_id"])
    op.create_table(
        "authority_findings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("fingerprint", sa.String(200), nullable=False),
        sa.Column("province", sa.String(2), nullable=True),
        sa.Column("subject_type", sa.String(12), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("gtin", sa.String(14), nullable=True),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=True),
        sa.Column("message_vi", sa.Text(), nullable=False),
        sa.Column("message_en", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("fraud_flags.id"), nullable=True),
        sa.Column("found_at", T, nullable=False),
        sa.Column("found_by", sa.String(10), nullable=False),
        sa.Column("closed_at", T, nullable=True),
        sa.UniqueConstraint("fingerprint", name="uq_authority_findings_fp"))
    op.create_index("ix_authority_findings_province_state", "authority_findings",
                    ["province", "state"])


def downgrade() -> None:
    for table in ("authority_findings", "authority_review_log", "authority_review_items",
                  "authority_policies", "authority_scopes", "trace_withheld"):
        op.drop_table(table)
