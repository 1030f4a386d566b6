"""transactions: each known wallet's tier and freeze, and the tiers' announced limits

``accounts.tier`` and ``accounts.frozen`` are part of the allowance wallets tells
(NULL and false until a wallet's next event: its allowance's own monthly limit counts,
and wallets refuses a frozen wallet's transfer as before); ``tier_limits`` keeps each
tier's monthly limit on money sent to people as ``wallet.tier_limits`` last announced it,
so an operator's change reaches the pre-check for every wallet at once (docs/limits.md).

Revision ID: 0008_accounts_tier_frozen
Revises: 0007
Create Date: 2026-12-02 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tijori.common.db

revision: str = "0008_accounts_tier_frozen"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tier", sa.String(length=10), nullable=True))
        batch_op.add_column(
            sa.Column("frozen", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "tier_limits",
        sa.Column("tier", sa.String(length=10), nullable=False),
        sa.Column("monthly_p2p_paise", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", tijori.common.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tier", name=op.f("pk_tier_limits")),
    )


def downgrade() -> None:
    op.drop_table("tier_limits")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("frozen")
        batch_op.drop_column("tier")
