"""users: an index on sessions.expires_at, for the purge of expired sessions

Sessions and their refresh tokens (one per refresh) were kept for ever. The users
service now deletes, hourly, the sessions that expired more than
``session_retention_seconds`` ago with their tokens, the oldest first; the index lets it
find them without reading the whole table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_sessions_expires_at", table_name="sessions")
