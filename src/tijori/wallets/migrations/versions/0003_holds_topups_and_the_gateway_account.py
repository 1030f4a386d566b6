"""holds, top-up credits and the gateway's system account

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 13:30:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import tijori.common.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GATEWAY_WALLET_ID = "00000000-0000-0000-0000-000000000002"


def upgrade() -> None:
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("held_paise", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "holds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("wallet_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("amount_paise", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("expires_at", tijori.common.db.UtcDateTime(), nullable=False),
        sa.Column("created_at", tijori.common.db.UtcDateTime(), nullable=False),
        sa.Column("updated_at", tijori.common.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["wallet_id"], ["wallets.id"], name=op.f("fk_holds_wallet_id_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index("ix_holds_status_expires_at", ["status", "expires_at"], unique=False)
    op.create_table(
        "topup_credits",
        sa.Column("topup_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("amount_paise", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("outcome_type", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("created_at", tijori.common.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("topup_id", name=op.f("pk_topup_credits")),
    )
    with op.batch_alter_table("topup_credits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_topup_credits_user_id_created_at", ["user_id", "created_at"], unique=False
        )
    # money at the payment gateway: top-ups come from it, withdrawals go to it
    now = datetime.now(UTC).replace(tzinfo=None)
    wallets = sa.table(
        "wallets",
        sa.column("id", sa.String),
        sa.column("user_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("balance_paise", sa.BigInteger),
        sa.column("held_paise", sa.BigInteger),
        sa.column("currency", sa.String),
        sa.column("status", sa.String),
        sa.column("version", sa.BigInteger),
        sa.column("created_at", sa.DateTime),
        sa.column("updated_at", sa.DateTime),
    )
    op.bulk_insert(
        wallets,
        [
            {
                "id": GATEWAY_WALLET_ID,
                "user_id": None,
                "kind": "SYSTEM",
                "balance_paise": 0,
                "held_paise": 0,
                "currency": "INR",
                "status": "ACTIVE",
                "version": 0,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM wallets WHERE id = :id").bindparams(id=GATEWAY_WALLET_ID))
    with op.batch_alter_table("topup_credits", schema=None) as batch_op:
        batch_op.drop_index("ix_topup_credits_user_id_created_at")
    op.drop_table("topup_credits")
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index("ix_holds_status_expires_at")
    op.drop_table("holds")
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_column("held_paise")
