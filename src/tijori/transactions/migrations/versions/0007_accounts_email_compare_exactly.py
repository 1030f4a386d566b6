"""accounts' e-mail addresses compare byte for byte (VARBINARY on MySQL and MariaDB)

The directory found a receiver by ``accounts.email`` under the database's text collation
(utf8mb4_unicode_ci), which takes ``rť-a@x.co`` for ``rt-a@x.co``: a payment to the one
went to the other's wallet, and the second's ``wallet.created`` could not be stored (the
unique key said it was there already). Addresses are kept in the form users compares them
in (``tijori.common.phone.normalize_email``, users migration 0005: stripped, NFC, ASCII
lower case) and compared byte for byte, as the idempotency keys are since 0003; SQLite
compares text byte for byte already.

Revision ID: 0007
Revises: 0006_accounts_allowance
Create Date: 2026-12-02 12:00:00
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0007"
down_revision: str | None = "0006_accounts_allowance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# normalize_email as it is at this revision (a migration does not change with the code)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _normalized(address: str) -> str:
    return unicodedata.normalize("NFC", address.strip()).translate(_ASCII_LOWER)


_ACCOUNTS = sa.table(
    "accounts", sa.column("user_id", sa.String(36)), sa.column("email", sa.String(254))
)


def upgrade() -> None:
    bind = op.get_bind()
    # every address users took at sign-up is in this form already; one from before its
    # migration 0005 may not be, and would be found by nobody once compared exactly
    for user_id, email in bind.execute(sa.select(_ACCOUNTS.c.user_id, _ACCOUNTS.c.email)).all():
        if _normalized(email) != email:
            bind.execute(
                _ACCOUNTS.update()
                .where(_ACCOUNTS.c.user_id == user_id)
                .values(email=_normalized(email))
            )
    if bind.dialect.name != "mysql":
        return
    op.alter_column(
        "accounts",
        "email",
        existing_type=sa.String(length=254),
        type_=mysql.VARBINARY(1016),  # ExactText(254): up to 4 bytes a character
        existing_nullable=False,
    )


def downgrade() -> None:
    # fails if two addresses now differ only in what the old collation ignored
    if op.get_bind().dialect.name != "mysql":
        return
    op.alter_column(
        "accounts",
        "email",
        existing_type=mysql.VARBINARY(1016),
        type_=sa.String(length=254),
        existing_nullable=False,
    )
