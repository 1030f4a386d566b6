"""Alembic environment of the users database."""

from tijori.common.migrations import run_env
from tijori.users.models import Base

run_env(Base.metadata)
