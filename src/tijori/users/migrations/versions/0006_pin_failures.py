"""users: the wrong PINs in a row, on the user's row

The attempt limit counted wrong PINs in Redis, which is never a source of truth
(tijori.common.cache): a restart, a flush or an eviction there lifted a lock. The count
and the time it stops counting are now the user's, read with the PIN hash in the
payment's one statement; a right PIN with nothing counted writes nothing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tijori.common.db import UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("pin_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("pin_failures_until", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("pin_failures_until")
        batch.drop_column("pin_failures")
