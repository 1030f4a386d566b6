"""Mail delivery: retried with backoff while SMTP is down, FAILED after the last try,
delivered to a real (in-process aiosmtpd) SMTP server when it is up."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from sqlalchemy import func, select, update

from tests.conftest import poll
from tests.unit.conftest import run_until, running
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWorkFactory
from tijori.common.events import UserCreated
from tijori.notifications import service
from tijori.notifications.config import NotificationsSettings
from tijori.notifications.mailer import Mailer, retry_delay
from tijori.notifications.models import Notification

USER = UserCreated(
    user_id="u1", name="Asha <b>Rao</b>", email="asha@example.com", phone="+919876543210"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Inbox(MessageHandler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[object] = []

    def handle_message(self, message: object) -> None:
        self.messages.append(message)


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


async def _queue(units: UnitOfWorkFactory, event_id: str, user: UserCreated) -> None:
    async with units() as uow:
        await service.welcome_user(uow, event_id=event_id, user=user, sender="Tijori <t@x.co>")
        await uow.commit()


async def _queue_welcome(units: UnitOfWorkFactory) -> int:
    await _queue(units, "e1", USER)
    async with units() as uow:
        notification_id = await uow.session.scalar(
            select(Notification.id).where(Notification.event_id == "e1")
        )
    assert notification_id is not None
    return notification_id


async def _make_due(units: UnitOfWorkFactory) -> None:
    async with units() as uow:
        await uow.session.execute(
            update(Notification).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        await uow.commit()


async def _state(units: UnitOfWorkFactory, notification_id: int) -> Notification:
    async with units() as uow:
        notification = await uow.session.get(Notification, notification_id)
    assert notification is not None
    return notification


async def test_delivery_retries_while_smtp_is_down_then_marks_failed(
    notifications_units: UnitOfWorkFactory,
) -> None:
    settings = NotificationsSettings(
        smtp_port=_free_port(), mail_max_attempts=3, smtp_timeout_seconds=2
    )
    mailer = Mailer(units=notifications_units, settings=settings)
    notification_id = await _queue_welcome(notifications_units)
    for attempt in (1, 2):
        assert await mailer.deliver_due() == 1
        state = await _state(notifications_units, notification_id)
        assert (state.status, state.attempts) == ("PENDING", attempt)
        assert state.next_attempt_at > utcnow() and state.last_error
        assert await mailer.deliver_due() == 0  # not due again before its backoff
        await _make_due(notifications_units)
    assert await mailer.deliver_due() == 1
    state = await _state(notifications_units, notification_id)
    assert (state.status, state.attempts, state.sent_at) == ("FAILED", 3, None)
    assert await mailer.deliver_due() == 0


async def test_a_notification_is_delivered_once_the_smtp_server_is_back(
    notifications_units: UnitOfWorkFactory, smtp_server: tuple[int, _Inbox]
) -> None:
    port, inbox = smtp_server
    down = Mailer(units=notifications_units, settings=NotificationsSettings(smtp_port=_free_port()))
    notification_id = await _queue_welcome(notifications_units)
    await down.deliver_due()
    assert (await _state(notifications_units, notification_id)).status == "PENDING"

    await _make_due(notifications_units)
    up = Mailer(units=notifications_units, settings=NotificationsSettings(smtp_port=port))
    assert await up.deliver_due() == 1
    state = await _state(notifications_units, notification_id)
    assert (state.status, state.attempts) == ("SENT", 2)
    assert state.sent_at is not None
    [message] = inbox.messages
    assert message["To"] == "asha@example.com"  # type: ignore[index]
    assert message["Subject"] == "Welcome to Tijori"  # type: ignore[index]
    assert "Asha <b>Rao</b>" in message.get_payload()  # type: ignore[attr-defined]
    assert await up.deliver_due() == 0


async def test_a_batch_goes_over_one_connection_and_every_e_mail_is_marked_sent(
    notifications_units: UnitOfWorkFactory, smtp_server: tuple[int, _Inbox]
) -> None:
    port, inbox = smtp_server
    async with notifications_units() as uow:
        for number in range(3):
            user = USER.model_copy(update={"user_id": f"u{number}", "email": f"p{number}@x.co"})
            await service.welcome_user(
                uow, event_id=f"e{number}", user=user, sender="Tijori <t@x.co>"
            )
        await uow.commit()
    mailer = Mailer(units=notifications_units, settings=NotificationsSettings(smtp_port=port))
    assert await mailer.deliver_due() == 3
    assert sorted(message["To"] for message in inbox.messages) == [  # type: ignore[index]
        "p0@x.co",
        "p1@x.co",
        "p2@x.co",
    ]
    peers = {message["X-Peer"] for message in inbox.messages}  # type: ignore[index]
    assert len(peers) == 1, f"one SMTP connection expected, saw {peers}"
    async with notifications_units() as uow:
        statuses = (await uow.session.scalars(select(Notification.status))).all()
    assert statuses == ["SENT"] * 3


class _RefusingInbox(_Inbox):
    """Takes every message but those to ``refused@x.co``."""

    async def handle_RCPT(
        self, server: object, uow: object, envelope: Any, address: str, options: object
    ) -> str:
        if address == "refused@x.co":
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_a_batch_records_each_outcome_the_sent_ones_sent_a_refused_one_to_retry(
    notifications_units: UnitOfWorkFactory,
) -> None:
    inbox = _RefusingInbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        async with notifications_units() as uow:
            for number, email in enumerate(["p0@x.co", "refused@x.co", "p2@x.co"]):
                user = USER.model_copy(update={"user_id": f"u{number}", "email": email})
                await service.welcome_user(
                    uow, event_id=f"e{number}", user=user, sender="Tijori <t@x.co>"
                )
            await uow.commit()
        mailer = Mailer(units=notifications_units, settings=NotificationsSettings(smtp_port=port))
        assert await mailer.deliver_due() == 3
    finally:
        controller.stop()
    async with notifications_units() as uow:
        rows = (
            await uow.session.execute(
                select(
                    Notification.receiver,
                    Notification.status,
                    Notification.attempts,
                    Notification.sent_at,
                    Notification.last_error,
                    Notification.next_attempt_at,
                ).order_by(Notification.id)
            )
        ).all()
    by_receiver = {row.receiver: row for row in rows}
    for sent in ("p0@x.co", "p2@x.co"):
        row = by_receiver[sent]
        assert (row.status, row.attempts, row.last_error) == ("SENT", 1, None)
        assert row.sent_at is not None
    refused = by_receiver["refused@x.co"]
    assert (refused.status, refused.attempts, refused.sent_at) == ("PENDING", 1, None)
    assert refused.last_error is not None and "550" in refused.last_error
    assert refused.next_attempt_at > utcnow()  # backing off
    assert sorted(message["To"] for message in inbox.messages) == [  # type: ignore[index]
        "p0@x.co",
        "p2@x.co",
    ]


def test_backoff_doubles_and_is_capped() -> None:
    assert [retry_delay(n, 2).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert retry_delay(30, 2).total_seconds() == 300


async def _queue_for(units: UnitOfWorkFactory, number: int) -> None:
    user = USER.model_copy(update={"user_id": f"u{number}", "email": f"p{number}@x.co"})
    await _queue(units, f"e{number}", user)


async def test_an_e_mail_queued_while_a_batch_is_sent_goes_out_at_once(
    notifications_units: UnitOfWorkFactory, smtp_server: tuple[int, _Inbox]
) -> None:
    """The mailer's wake-up is not lost to an e-mail queued during a batch: it goes out in
    the next batch, not at the next poll (here 60 s away)."""
    port, inbox = smtp_server
    mailer = Mailer(
        units=notifications_units,
        settings=NotificationsSettings(smtp_port=port, mail_poll_seconds=60),
    )
    sending = mailer._deliver
    both_sent = asyncio.Event()

    async def queue_another_meanwhile(smtp: Any, claimed: Notification) -> Any:
        if claimed.event_id == "e1":
            await _queue_for(notifications_units, 2)
            mailer.wake()  # as the consumer does after its commit
        tried = await sending(smtp, claimed)
        if claimed.event_id == "e2":
            both_sent.set()
        return tried

    mailer._deliver = queue_another_meanwhile  # type: ignore[method-assign]
    await _queue_welcome(notifications_units)
    await run_until(mailer.run(), both_sent, seconds=5)  # the poll is 60 s away
    assert [message["To"] for message in inbox.messages] == [  # type: ignore[index]
        "asha@example.com",
        "p2@x.co",
    ]


async def _delivered(inbox: _Inbox, count: int) -> None:
    async def arrived() -> bool:
        return len(inbox.messages) >= count

    await poll(arrived, timeout=5, interval=0.01, what=f"{count} e-mails to arrive")


async def _recorded_sent(units: UnitOfWorkFactory, count: int) -> None:
    """Wait until ``count`` notifications are marked SENT (the mailer marks a batch after
    the server has taken its messages)."""

    async def marked() -> bool:
        async with units() as uow:
            sent = await uow.session.scalar(
                select(func.count()).where(Notification.status == "SENT")
            )
        return sent is not None and sent >= count

    await poll(marked, timeout=5, interval=0.01, what=f"{count} e-mails marked SENT")


async def test_the_delivery_loop_keeps_its_connection_between_batches_until_it_is_quiet(
    notifications_units: UnitOfWorkFactory, smtp_server: tuple[int, _Inbox]
) -> None:
    port, inbox = smtp_server
    mailer = Mailer(
        units=notifications_units,
        settings=NotificationsSettings(smtp_port=port, mail_poll_seconds=2.0),
    )
    async with running(mailer.run()):
        for number in (1, 2):  # two batches, the second before a quiet poll interval
            await _queue_for(notifications_units, number)
            mailer.wake()
            await _delivered(inbox, number)
        await asyncio.sleep(4.5)  # quiet for a poll interval: the connection is let go
        await _queue_for(notifications_units, 3)
        mailer.wake()
        await _delivered(inbox, 3)
    first, second, third = (message["X-Peer"] for message in inbox.messages)  # type: ignore[index]
    assert first == second != third


async def test_a_kept_connection_the_server_dropped_is_replaced_without_a_failed_try(
    notifications_units: UnitOfWorkFactory,
) -> None:
    inbox, port = _Inbox(), _free_port()
    first = Controller(inbox, hostname="127.0.0.1", port=port)
    first.start()
    mailer = Mailer(
        units=notifications_units,
        settings=NotificationsSettings(smtp_port=port, mail_poll_seconds=60),
    )
    async with running(mailer.run()):
        await _queue_for(notifications_units, 1)
        mailer.wake()
        await _delivered(inbox, 1)
        first.stop()  # a restart: the connection kept for the next batch dies with it
        second = Controller(inbox, hostname="127.0.0.1", port=port)
        second.start()
        try:
            await _queue_for(notifications_units, 2)
            mailer.wake()
            await _recorded_sent(notifications_units, 2)
        finally:
            second.stop()
    async with notifications_units() as uow:
        rows = (await uow.session.execute(select(Notification.status, Notification.attempts))).all()
    assert [tuple(row) for row in rows] == [("SENT", 1), ("SENT", 1)]
