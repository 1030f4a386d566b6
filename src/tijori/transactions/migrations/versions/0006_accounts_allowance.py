"""transactions: what each known wallet's sender-side limits allow, for the pre-check

The tier's monthly limit on money sent to people and what was sent in its month, the
user's own daily caps and what was paid on its day, learned from wallets' transfer
outcomes and ``wallet.limits_changed`` with the wallet version they are from
(``limits_version``; NULL: nothing known yet, the pre-check checks no limit).

Revision ID: 0006_accounts_allowance
Revises: 0005
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_accounts_allowance"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "limits_version",
    "monthly_p2p_paise",
    "p2p_month",
    "p2p_sent_paise",
    "daily_amount_cap_paise",
    "daily_count_cap",
    "pay_day",
    "day_paid_paise",
    "day_payments",
)


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("limits_version", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("monthly_p2p_paise", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("p2p_month", sa.String(length=7), nullable=True))
        batch_op.add_column(
            sa.Column("p2p_sent_paise", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("daily_amount_cap_paise", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("daily_count_cap", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pay_day", sa.String(length=10), nullable=True))
        batch_op.add_column(
            sa.Column("day_paid_paise", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("day_payments", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
