"""fraud: field inspection photos and the register of printed evidence (dossier PDFs)

Revision ID: fraud_0003
Revises: fraud_0002
"""

import sqlalchemy as sa
from alembic import op

import scanapp.db

revision = "fraud_0003"
down_revision = "fraud_0002"
branch_labels = None
depends_on = None

UTC = scanapp.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fraud_inspection_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["inspection_id"], ["fraud_inspections.id"],
            name=op.f("fk_fraud_inspection_photos_inspection_id_fraud_inspections")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_inspection_photos")),
    )
    op.create_index("ix_fraud_inspection_photos_inspection_id", "fraud_inspection_photos",
                    ["inspection_id"])
    op.create_table(
        "fraud_evidence_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("issued_at", UTC, nullable=False),
        sa.Column("issued_by_org_id", sa.Integer(), nullable=False),
        sa.Column("issued_by_key_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["flag_id"], ["fraud_flags.id"],
                                name=op.f("fk_fraud_evidence_issues_flag_id_fraud_flags")),
        sa.ForeignKeyConstraint(
            ["issued_by_org_id"], ["organisations.id"],
            name=op.f("fk_fraud_evidence_issues_issued_by_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_evidence_issues")),
    )
    op.create_index("ix_fraud_evidence_issues_serial", "fraud_evidence_issues", ["serial"])
    op.create_index("ix_fraud_evidence_issues_content_hash", "fraud_evidence_issues",
                    ["content_hash"])
    op.create_index("ix_fraud_evidence_issues_pdf_sha256", "fraud_evidence_issues",
                    ["pdf_sha256"])


def downgrade() -> None:
    op.drop_index("ix_fraud_evidence_issues_pdf_sha256", table_name="fraud_evidence_issues")
    op.drop_index("ix_fraud_evidence_issues_content_hash", table_name="fraud_evidence_issues")
    op.drop_index("ix_fraud_evidence_issues_serial", table_name="fraud_evidence_issues")
    op.drop_table("fraud_evidence_issues")
    op.drop_index("ix_fraud_inspection_photos_inspection_id",
                  table_name="fraud_inspection_photos")
    op.drop_table("fraud_inspection_photos")
