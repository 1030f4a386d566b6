"""wallets: the KYC tier and the running count of money sent to people this month

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kyc_tier", sa.String(length=10), nullable=False, server_default="MINIMUM")
        )
        batch_op.add_column(sa.Column("p2p_month", sa.String(length=7), nullable=True))
        batch_op.add_column(
            sa.Column("p2p_sent_paise", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_column("p2p_sent_paise")
        batch_op.drop_column("p2p_month")
        batch_op.drop_column("kyc_tier")
