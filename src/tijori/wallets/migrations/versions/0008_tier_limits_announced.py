"""wallets: what ``wallet.tier_limits`` announced last, so a restart announces a change

One row (id 1): the last announced tiers' monthly limits on money sent to people (the
payload, as JSON; NULL: never announced) and the announcement's version. A wallets
process starting with other limits announces them at the next version under this row's
lock, so two starting together announce once (docs/limits.md).

Revision ID: 0008_tier_limits_announced
Revises: 0007_holds_limit_name
Create Date: 2026-12-02 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tijori.common.db

revision: str = "0008_tier_limits_announced"
down_revision: str | None = "0007_holds_limit_name"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "tier_limits_announced",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("announcement", sa.Text(), nullable=True),
        sa.Column("announced_at", tijori.common.db.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_limits_announced")),
    )
    op.bulk_insert(table, [{"id": 1, "version": 0, "announcement": None, "announced_at": None}])


def downgrade() -> None:
    op.drop_table("tier_limits_announced")
