"""Response bodies of the notifications service."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

_MAIL_FROM = "Tijori <no-reply@tijori.local>"
_ASHA_EMAIL = "asha@example.com"


class NotificationRead(BaseModel):
    """One notification of the caller."""

    # Asha Rao's mail, newest first, as a page lists them
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "kind": "TRANSFER_FAILED",
                    "sender": _MAIL_FROM,
                    "receiver": _ASHA_EMAIL,
                    "subject": "Your transfer of ₹80.00 to Ravi Kumar failed",
                    "message": (
                        "Hello Asha Rao,\n\nYour transfer of ₹80.00 to Ravi Kumar did not go "
                        "through: there was not enough balance in your wallet (reason: "
                        "insufficient_funds). No money left your wallet.\n"
                        "Transaction: 1d7f3a92-6b4c-4e18-9a5d-3f8e2c7b0a61\n\nTeam Tijori\n"
                    ),
                    "status": "PENDING",
                    "channel": "EMAIL",
                    "sent_at": None,
                    "created_at": "2025-01-15T12:40:01Z",
                },
                {
                    "id": 9,
                    "kind": "TRANSFER_SENT",
                    "sender": _MAIL_FROM,
                    "receiver": _ASHA_EMAIL,
                    "subject": "You sent ₹40.00 to Ravi Kumar",
                    "message": (
                        "Hello Asha Rao,\n\nYou sent ₹40.00 to Ravi Kumar.\n"
                        "Note: movie tickets\n"
                        "Transaction: e9b1c7d4-3a28-4f5e-8d61-7c2a9b0e4f13\n\nTeam Tijori\n"
                    ),
                    "status": "SENT",
                    "channel": "EMAIL",
                    "sent_at": "2025-01-15T10:05:02Z",
                    "created_at": "2025-01-15T10:05:01Z",
                },
                {
                    "id": 5,
                    "kind": "WELCOME",
                    "sender": _MAIL_FROM,
                    "receiver": _ASHA_EMAIL,
                    "subject": "Welcome to Tijori",
                    "message": (
                        "Hello Asha Rao,\n\nYour Tijori account is ready. Your wallet opens with "
                        "a promotional balance so you can send your first payment right away.\n\n"
                        "Log in with your e-mail or your phone number.\n\nTeam Tijori\n"
                    ),
                    "status": "SENT",
                    "channel": "EMAIL",
                    "sent_at": "2025-01-15T09:30:02Z",
                    "created_at": "2025-01-15T09:30:01Z",
                },
            ]
        },
    )

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
