"""Response bodies of the notifications service."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class NotificationRead(BaseModel):
    """One notification of the caller."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    sender: str
    receiver: str
    subject: str
    message: str
    status: Literal["PENDING", "SENT", "FAILED"]
    channel: Literal["EMAIL"]
    sent_at: datetime | None
    created_at: datetime
