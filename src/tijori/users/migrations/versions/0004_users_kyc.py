"""users: KYC state (tier, masked PAN, the verifier's reference while it checks)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tijori.common.db import UtcDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("kyc", sa.String(length=10), nullable=False, server_default="MINIMUM")
        )
        batch.add_column(sa.Column("kyc_pan_masked", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("kyc_reference", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("kyc_reason", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("kyc_check_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("kyc_updated_at", UtcDateTime(), nullable=True))
        batch.create_index("ix_users_kyc_kyc_check_at", ["kyc", "kyc_check_at"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_kyc_kyc_check_at")
        for column in (
            "kyc_updated_at",
            "kyc_check_at",
            "kyc_reason",
            "kyc_reference",
            "kyc_pan_masked",
            "kyc",
        ):
            batch.drop_column(column)
