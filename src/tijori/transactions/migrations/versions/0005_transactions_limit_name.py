"""transactions: which limit a transfer FAILED with limit_exceeded passed

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("transactions", sa.Column("limit_name", sa.String(40), nullable=True))


def downgrade() -> None:
    op.drop_column("transactions", "limit_name")
