"""payments: what payments knows of each user's KYC (withdrawals need FULL)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 16:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kyc", sa.String(length=10), nullable=False, server_default="MINIMUM")
        )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("kyc")
