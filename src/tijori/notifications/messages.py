"""What each e-mail says."""

from __future__ import annotations

from dataclasses import dataclass

from tijori.common.events import UserCreated


@dataclass(frozen=True)
class MailContent:
    """Subject and plain-text body of one e-mail."""

    kind: str
    subject: str
    body: str


def welcome(user: UserCreated) -> MailContent:
    """The e-mail a new user receives."""
    return MailContent(
        kind="WELCOME",
        subject="Welcome to Tijori",
        body=(
            f"Hello {user.name},\n\n"
            "Your Tijori account is ready. Your wallet opens with a promotional balance "
            "so you can send your first payment right away.\n\n"
            "Log in with your e-mail or your phone number.\n\n"
            "Team Tijori\n"
        ),
    )
