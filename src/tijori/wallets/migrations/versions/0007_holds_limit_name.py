"""wallets: which limit a refused hold passed (limit_exceeded, as a transfer's)

A withdrawal over the user's own daily cap was refused with the cap's name as its
reason (``daily_amount``, ``daily_count``); it is now ``limit_exceeded`` with the cap in
``limit_name``, as a refused transfer is. Holds refused before are rewritten the same
way, so a withdrawal sent again repeats the refusal in the new form.

Revision ID: 0007_holds_limit_name
Revises: 0006_user_limits
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_holds_limit_name"
down_revision: str | None = "0006_user_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWN_CAPS = ("daily_amount", "daily_count")


def _holds() -> sa.TableClause:
    return sa.table("holds", sa.column("reason", sa.String), sa.column("limit_name", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("limit_name", sa.String(length=40), nullable=True))
    holds = _holds()
    op.execute(
        holds.update()
        .where(holds.c.reason.in_(OWN_CAPS))
        .values(limit_name=holds.c.reason, reason="limit_exceeded")
    )


def downgrade() -> None:
    holds = _holds()
    op.execute(
        holds.update()
        .where(holds.c.reason == "limit_exceeded", holds.c.limit_name.in_(OWN_CAPS))
        .values(reason=holds.c.limit_name)
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_column("limit_name")
