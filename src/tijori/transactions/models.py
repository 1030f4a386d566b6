"""Tables of the transactions service."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from tijori.common.db import NAMING_CONVENTION
from tijori.common.models import OutboxMessageMixin, ProcessedEventMixin


class Base(DeclarativeBase):
    """Metadata of the transactions database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class OutboxMessage(OutboxMessageMixin, Base):
    """Events of the transactions service waiting to be relayed."""


class ProcessedEvent(ProcessedEventMixin, Base):
    """Events the transactions service has applied."""
