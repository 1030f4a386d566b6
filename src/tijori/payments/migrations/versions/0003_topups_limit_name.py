"""payments: which limit a top-up refunded with limit_exceeded passed

Top-ups wallets refused over a limit of the wallet's tier were stored with the limit's
name as their reason (``balance_cap``, ``monthly_load``, ``yearly_load``,
``kyc_upgrade_deadline``); they are now stored with ``limit_exceeded`` and the limit in
``limit_name``, as withdrawals (0002) and transfers are. Those refused before are
rewritten the same way.

Revision ID: 0003_topups_limit_name
Revises: 0002_withdrawals_limit_name
Create Date: 2026-12-02 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_topups_limit_name"
down_revision: str | None = "0002_withdrawals_limit_name"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the limits wallets refuses a top-up over (wallets.topups._limit_passed)
TOPUP_LIMITS = ("balance_cap", "monthly_load", "yearly_load", "kyc_upgrade_deadline")


def _topups() -> sa.TableClause:
    return sa.table("topups", sa.column("reason", sa.String), sa.column("limit_name", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("topups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("limit_name", sa.String(length=40), nullable=True))
    topups = _topups()
    op.execute(
        topups.update()
        .where(topups.c.reason.in_(TOPUP_LIMITS))
        .values(limit_name=topups.c.reason, reason="limit_exceeded")
    )


def downgrade() -> None:
    topups = _topups()
    op.execute(
        topups.update()
        .where(topups.c.reason == "limit_exceeded", topups.c.limit_name.in_(TOPUP_LIMITS))
        .values(reason=topups.c.limit_name)
    )
    with op.batch_alter_table("topups", schema=None) as batch_op:
        batch_op.drop_column("limit_name")
