"""Alembic environment of the notifications database."""

from tijori.common.migrations import run_env
from tijori.notifications.models import Base

run_env(Base.metadata)
