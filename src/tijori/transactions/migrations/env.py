"""Alembic environment of the transactions database."""

from tijori.common.migrations import run_env
from tijori.transactions.models import Base

run_env(Base.metadata)
