"""payments: which limit a withdrawal FAILED with limit_exceeded passed

Withdrawals refused over the user's own daily cap failed with the cap's name as their
reason (``daily_amount``, ``daily_count``); they now fail with ``limit_exceeded`` and
the cap in ``limit_name``, as transfers do. Those failed before are rewritten the same
way.

Revision ID: 0002_withdrawals_limit_name
Revises: 0001
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_withdrawals_limit_name"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWN_CAPS = ("daily_amount", "daily_count")


def _withdrawals() -> sa.TableClause:
    return sa.table(
        "withdrawals", sa.column("reason", sa.String), sa.column("limit_name", sa.String)
    )


def upgrade() -> None:
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("limit_name", sa.String(length=40), nullable=True))
    withdrawals = _withdrawals()
    op.execute(
        withdrawals.update()
        .where(withdrawals.c.reason.in_(OWN_CAPS))
        .values(limit_name=withdrawals.c.reason, reason="limit_exceeded")
    )


def downgrade() -> None:
    withdrawals = _withdrawals()
    op.execute(
        withdrawals.update()
        .where(withdrawals.c.reason == "limit_exceeded", withdrawals.c.limit_name.in_(OWN_CAPS))
        .values(reason=withdrawals.c.limit_name)
    )
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.drop_column("limit_name")
