"""Alembic environment of the payments database."""

from tijori.common.migrations import run_env
from tijori.payments.models import Base

run_env(Base.metadata)
