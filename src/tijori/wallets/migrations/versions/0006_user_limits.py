"""wallets: the user's own daily caps, what was paid today, and the trail of changes

Revision ID: 0006_user_limits
Revises: 0005_wallet_freezes
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tijori.common.db

revision: str = "0006_user_limits"
down_revision: str | None = "0005_wallet_freezes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("daily_amount_cap_paise", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("daily_count_cap", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pay_day", sa.String(length=10), nullable=True))
        batch_op.add_column(
            sa.Column("day_paid_paise", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("day_payments", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "limit_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("daily_amount_cap_paise", sa.BigInteger(), nullable=True),
        sa.Column("daily_count_cap", sa.Integer(), nullable=True),
        sa.Column("raised", sa.Boolean(), nullable=False),
        sa.Column("payment_token_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", tijori.common.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limit_changes")),
        sa.UniqueConstraint("payment_token_id", name=op.f("uq_limit_changes_payment_token_id")),
    )
    with op.batch_alter_table("limit_changes", schema=None) as batch_op:
        batch_op.create_index("ix_limit_changes_user_id_id", ["user_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("limit_changes")
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_column("day_payments")
        batch_op.drop_column("day_paid_paise")
        batch_op.drop_column("pay_day")
        batch_op.drop_column("daily_count_cap")
        batch_op.drop_column("daily_amount_cap_paise")
