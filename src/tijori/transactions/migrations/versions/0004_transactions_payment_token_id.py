"""transactions remember the payment token that authorised them, once each

Every transfer is authorised by a single-use payment token (issue 20). Its id (the
JWT's ``jti``) is written with the transaction, in the insert that stores it anyway,
and a unique index refuses a second transaction authorised by the same token. Rows
from before carry none (NULL, which the index lets repeat).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("transactions", sa.Column("payment_token_id", sa.String(64), nullable=True))
    op.create_index(
        "uq_transactions_payment_token_id", "transactions", ["payment_token_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_transactions_payment_token_id", table_name="transactions")
    op.drop_column("transactions", "payment_token_id")
