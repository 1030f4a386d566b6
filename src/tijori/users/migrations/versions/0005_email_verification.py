"""users: e-mail verification, and e-mail addresses compared by a normalised form

The unique key on ``email`` was under the database's text collation (utf8mb4_unicode_ci),
which takes ``rť-a@x.co`` for ``rt-a@x.co``: the second could not sign up, and a log-in
or a look-up as one could find the other. Addresses are now compared in
``email_normalized`` (``tijori.common.phone.normalize_email``: stripped, NFC, ASCII
lower case), kept byte for byte (VARBINARY on MySQL and MariaDB, as the idempotency
keys are since transactions 0003; SQLite compares text byte for byte) under a unique
key; ``email`` keeps the address as it is shown and mailed, without a key of its own.

Users who signed up before this stay unverified: verification gates paying, and their
wallets have had the promotion already.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tijori.common.db import ExactText, UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# normalize_email as it is at this revision (a migration does not change with the code)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _normalized(address: str) -> str:
    return unicodedata.normalize("NFC", address.strip()).translate(_ASCII_LOWER)


_USERS = sa.table(
    "users",
    sa.column("id", sa.String(36)),
    sa.column("email", sa.String(254)),
    sa.column("email_normalized", ExactText(254)),
)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email_normalized", ExactText(254), nullable=True))
        batch.add_column(
            sa.Column("email_verified", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("email_code_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("email_code_expires_at", UtcDateTime(), nullable=True))
        batch.add_column(
            sa.Column("email_code_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("email_code_sent_at", UtcDateTime(), nullable=True))
    bind = op.get_bind()
    for user_id, email in bind.execute(sa.select(_USERS.c.id, _USERS.c.email)).all():
        bind.execute(
            _USERS.update()
            .where(_USERS.c.id == user_id)
            .values(email_normalized=_normalized(email))
        )
    with op.batch_alter_table("users") as batch:
        batch.alter_column("email_normalized", existing_type=ExactText(254), nullable=False)
        batch.create_unique_constraint("uq_users_email_normalized", ["email_normalized"])
        batch.drop_constraint("uq_users_email", type_="unique")


def downgrade() -> None:
    # fails if two addresses now differ only in what the old collation ignored
    with op.batch_alter_table("users") as batch:
        batch.create_unique_constraint("uq_users_email", ["email"])
        batch.drop_constraint("uq_users_email_normalized", type_="unique")
        for column in (
            "email_code_sent_at",
            "email_code_attempts",
            "email_code_expires_at",
            "email_code_hash",
            "email_verified",
            "email_normalized",
        ):
            batch.drop_column(column)
