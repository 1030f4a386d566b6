"""Alembic environment of the wallets database."""

from tijori.common.migrations import run_env
from tijori.wallets.models import Base

run_env(Base.metadata)
