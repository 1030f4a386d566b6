"""The development mailbox: a Maildir kept by the local SMTP server of ``tijori up``."""

from __future__ import annotations

import email
import email.policy
import mailbox
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel


class MailItem(BaseModel):
    """One received e-mail, as ``tijori mail`` and the web client show it."""

    id: str
    sender: str
    receiver: str
    subject: str
    date: str
    body: str


def _parse(handle: Any) -> EmailMessage:
    message = email.message_from_binary_file(handle, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def read_mailbox(maildir: Path, *, receiver: str | None = None, limit: int = 50) -> list[MailItem]:
    """The newest ``limit`` messages in ``maildir``, optionally only those to ``receiver``."""
    if not (maildir / "cur").is_dir():
        return []
    box = mailbox.Maildir(maildir, factory=None, create=False)
    items = []
    for key in box.iterkeys():
        with box.get_file(key) as handle:
            message = _parse(handle)
        to = str(message.get("To", ""))
        if receiver is not None and receiver.lower() not in to.lower():
            continue
        part = message.get_body(preferencelist=("plain",))
        items.append(
            MailItem(
                id=key,
                sender=str(message.get("From", "")),
                receiver=to,
                subject=str(message.get("Subject", "")),
                date=str(message.get("Date", "")),
                body=part.get_content() if part is not None else "",
            )
        )
    items.sort(key=lambda item: _sent_at(item.date), reverse=True)
    return items[:limit]


def _sent_at(date: str) -> float:
    try:
        return parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return 0.0
