"""idempotency keys compare byte for byte (VARBINARY on MySQL and MariaDB)

Under utf8mb4_unicode_ci ``Invoice-A`` and ``invoice-a`` (or ``é`` and ``e``) were one
key, and a second, intended payment was answered with the first. The key's UTF-8 bytes
are kept as they are; SQLite already compares text byte for byte.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "mysql":
        return
    op.alter_column(
        "idempotency_keys",
        "key",
        existing_type=sa.String(length=255),
        type_=mysql.VARBINARY(1020),
        existing_nullable=False,
    )


def downgrade() -> None:
    # fails if two keys now differ only in what the old collation ignored
    if op.get_bind().dialect.name != "mysql":
        return
    op.alter_column(
        "idempotency_keys",
        "key",
        existing_type=mysql.VARBINARY(1020),
        type_=sa.String(length=255),
        existing_nullable=False,
    )
