"""wallets: the history of freezes and unfreezes (who, when, why, and the payment token
an owner's unfreeze was confirmed with)

Revision ID: 0005_wallet_freezes
Revises: 0004
Create Date: 2026-12-01 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tijori.common.db

revision: str = "0005_wallet_freezes"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wallet_freezes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("wallet_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("by", sa.String(length=10), nullable=False),
        sa.Column("actor_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("payment_token_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", tijori.common.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["wallet_id"], ["wallets.id"], name=op.f("fk_wallet_freezes_wallet_id_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_freezes")),
    )
    with op.batch_alter_table("wallet_freezes", schema=None) as batch_op:
        batch_op.create_index("ix_wallet_freezes_wallet_id_id", ["wallet_id", "id"], unique=False)
        batch_op.create_index(
            "uq_wallet_freezes_payment_token_id", ["payment_token_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("wallet_freezes", schema=None) as batch_op:
        batch_op.drop_index("uq_wallet_freezes_payment_token_id")
        batch_op.drop_index("ix_wallet_freezes_wallet_id_id")
    op.drop_table("wallet_freezes")
