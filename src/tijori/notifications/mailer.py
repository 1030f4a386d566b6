"""Delivers PENDING notifications over SMTP, retrying with backoff while it is down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.utils import formataddr, formatdate, make_msgid, parseaddr

import aiosmtplib
from opentelemetry.trace import SpanKind, StatusCode

from tijori.common.clock import utcnow, woken
from tijori.common.db import UnitOfWorkFactory, retry_transient
from tijori.common.metrics import EMAILS, count_after_commit
from tijori.common.tracing import continue_trace
from tijori.notifications.config import NotificationsSettings
from tijori.notifications.models import Notification
from tijori.notifications.repository import NotificationRepository

log = logging.getLogger(__name__)

# a claimed notification whose mailer died is tried again after this long: longer than
# one SMTP conversation may take (the timeout), short enough that a crash delays little
MIN_CLAIM_LEASE = timedelta(seconds=20)
MAX_RETRY_DELAY_SECONDS = 300.0
LOCAL_HOSTNAME = "tijori.local"
# e-mails claimed and sent over one SMTP connection at a time
BATCH_SIZE = 20

UTF8_QUOTED_PRINTABLE = Charset("utf-8")
UTF8_QUOTED_PRINTABLE.body_encoding = QP


def compose(notification: Notification) -> bytes:
    """The e-mail of ``notification``, ready for SMTP ``DATA``.

    Built with the email package's compat32 classes, which do not parse every header they
    are given, unlike the modern ``EmailMessage`` (docs/performance.md). Non-ASCII
    in the subject and the names is encoded as RFC 2047 words, the body as UTF-8 in
    quoted-printable (readable where it is ASCII).
    """
    message = Message()
    message.set_payload(notification.message, UTF8_QUOTED_PRINTABLE)  # text/plain
    message["From"] = _address(notification.sender)
    message["To"] = _address(notification.receiver)
    message["Subject"] = _header(notification.subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=f"n{notification.id}", domain="tijori.local")
    message["X-Tijori-Notification"] = str(notification.id)
    message["X-Tijori-Kind"] = notification.kind
    return message.as_bytes()


def _header(text: str) -> str:
    return text if text.isascii() else Header(text, "utf-8").encode()


def _address(text: str) -> str:
    name, address = parseaddr(text)
    return formataddr((name, address), charset="utf-8")


def retry_delay(attempts: int, base_seconds: float) -> timedelta:
    """Exponential backoff after ``attempts`` failed tries."""
    return timedelta(seconds=min(base_seconds * 2 ** (attempts - 1), MAX_RETRY_DELAY_SECONDS))


@dataclass(frozen=True)
class Tried:
    """How one try of one notification went, and the changes it makes to its row."""

    notification_id: int
    kind: str
    outcome: str  # sent | failed | retrying
    values: dict[str, object]  # for a failed or retrying one


class Mailer:
    """The delivery loop of the notifications service."""

    def __init__(self, *, units: UnitOfWorkFactory, settings: NotificationsSettings) -> None:
        self.units = units
        self.settings = settings
        self._wake = asyncio.Event()
        # kept open between batches by the delivery loop (run), closed when it goes quiet
        self._kept: aiosmtplib.SMTP | None = None
        self.claim_lease = max(
            MIN_CLAIM_LEASE, timedelta(seconds=3 * settings.smtp_timeout_seconds)
        )

    def wake(self) -> None:
        """Look for due notifications now."""
        self._wake.set()

    def _smtp(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.settings.smtp_host,
            port=self.settings.smtp_port,
            timeout=self.settings.smtp_timeout_seconds,
            # said in EHLO; without it every connection looks up this host's FQDN
            local_hostname=LOCAL_HOSTNAME,
            start_tls=False,
        )

    async def deliver_due(self, *, batch_size: int = BATCH_SIZE, keep_open: bool = False) -> int:
        """Try every due notification once; return how many were tried.

        A batch goes over one SMTP connection, and how each try went is stored for the
        whole batch in one database transaction when it is over (also when the loop is
        stopped halfway). A mailer that dies in between sends that batch's e-mails again
        once their claim lapses: at least once, never lost. With ``keep_open`` the
        connection stays open for the next batch (the delivery loop's way: connecting,
        greeting and quitting were three of every batch's SMTP round trips).
        """
        now = utcnow()
        async with self.units() as uow:
            claimed = await NotificationRepository(uow).claim_due(
                now=now, limit=batch_size, lease_until=now + self.claim_lease
            )
            await uow.commit()
        if claimed:
            smtp = self._kept if self._kept is not None else self._smtp()
            self._kept = None
            tried: list[Tried] = []
            try:
                for notification in claimed:
                    tried.append(await self._deliver(smtp, notification))
            finally:
                if keep_open and smtp.is_connected:
                    self._kept = smtp
                else:
                    await _quit(smtp)
                # retried for about 7 s, well within the claim's lease: a database that
                # comes back by then costs no e-mail sent twice
                await retry_transient(
                    lambda: self._record(tried), attempts=12, what="recording e-mails"
                )
        return len(claimed)

    async def close(self) -> None:
        """Close the SMTP connection kept between batches, if any."""
        kept, self._kept = self._kept, None
        if kept is not None:
            await _quit(kept)

    async def _deliver(self, smtp: aiosmtplib.SMTP, claimed: Notification) -> Tried:
        with continue_trace(
            "email send",
            traceparent=claimed.traceparent,
            correlation_id=claimed.correlation_id,
            kind=SpanKind.CLIENT,
            attributes={
                "tijori.notification.id": claimed.id,
                "tijori.notification.kind": claimed.kind,
            },
        ) as span:
            error: str | None = None
            try:
                if not smtp.is_connected:
                    await smtp.connect()
                await smtp.sendmail(
                    parseaddr(claimed.sender)[1], [claimed.receiver], compose(claimed)
                )
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as failure:
                error = f"{type(failure).__name__}: {failure}"[:500]
                span.set_status(StatusCode.ERROR, error)
            return self._judge(claimed, error)  # logged here, in the e-mail's trace

    def _judge(self, claimed: Notification, error: str | None) -> Tried:
        """What a try means for the notification: SENT, FAILED after the last try, or
        when to try again."""
        attempts = claimed.attempts  # counted when it was claimed
        values: dict[str, object]
        if error is None:
            outcome = "sent"
            values = {}  # marked with the batch's others
            log.info(
                "notification %s (%s) sent to user %s on try %d",
                claimed.id,
                claimed.kind,
                claimed.user_id,
                attempts,
            )
        elif attempts >= self.settings.mail_max_attempts:
            outcome = "failed"
            values = {"status": "FAILED", "last_error": error}
            log.error("notification %s FAILED after %d tries: %s", claimed.id, attempts, error)
        else:
            outcome = "retrying"
            delay = retry_delay(attempts, self.settings.mail_retry_base_seconds)
            values = {"next_attempt_at": utcnow() + delay, "last_error": error}
            log.warning(
                "notification %s not delivered (try %d), next in %.0fs: %s",
                claimed.id,
                attempts,
                delay.total_seconds(),
                error,
            )
        return Tried(claimed.id, claimed.kind, outcome, values)

    async def _record(self, tried: Sequence[Tried]) -> None:
        """Store how a batch's tries went, in one transaction: the sent ones in one
        statement, the others one by one (docs/performance.md)."""
        if not tried:
            return
        async with self.units() as uow:
            repository = NotificationRepository(uow)
            sent = [each.notification_id for each in tried if each.outcome == "sent"]
            if sent:
                await repository.mark_sent(sent, at=utcnow())
            for each in tried:
                if each.outcome != "sent":
                    await repository.update(each.notification_id, each.values)
                count_after_commit(uow, EMAILS.labels(kind=each.kind, outcome=each.outcome))
            await uow.commit()

    async def run(self) -> None:
        """Deliver forever: when woken by a new notification, else every poll interval."""
        try:
            while True:
                # cleared before looking: a notification queued meanwhile wakes the next
                # round at once
                self._wake.clear()
                if await self.deliver_due(keep_open=True) == BATCH_SIZE:
                    continue  # more may be due
                if not await woken(self._wake, self.settings.mail_poll_seconds):
                    await self.close()  # quiet for a poll interval: let the server go
        finally:
            if self._kept is not None:  # stopping: no goodbye, the server sees the socket close
                self._kept.close()
                self._kept = None


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    if smtp.is_connected:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await smtp.quit()
