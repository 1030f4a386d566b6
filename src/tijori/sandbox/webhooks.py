"""Webhooks: Razorpay's event bodies, signed, delivered at least once from a queue.

An event is built once, as the exact bytes every delivery of it posts, signed with
``X-Razorpay-Signature`` = hex HMAC-SHA256(webhook secret, raw body) and named by
``X-Razorpay-Event-Id``, the same on every retry. Anything but a 2xx within the
timeout is retried with exponential backoff, for 24 hours as Razorpay does. The
queue is in the state file, so a restarted sandbox carries on delivering. Deliveries
go one at a time, in the order they are due: a receiver that hangs holds up the rest,
as long as the timeout.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx

from tijori.sandbox.config import SandboxSettings
from tijori.sandbox.entities import ACCOUNT_ID, hmac_sha256_hex, new_id, now
from tijori.sandbox.store import Delivery, Store, Tx
from tijori.sandbox.switches import Switches

log = logging.getLogger(__name__)

BATCH = 50


def event_body(event: str, entities: dict[str, dict[str, Any]]) -> bytes:
    """The body Razorpay posts for an event about these entities (a snapshot of them now)."""
    body = {
        "entity": "event",
        "account_id": ACCOUNT_ID,
        "event": event,
        "contains": list(entities),
        "payload": {name: {"entity": entity} for name, entity in entities.items()},
        "created_at": now(),
    }
    return json.dumps(body, separators=(",", ":")).encode()


async def queue_event(tx: Tx, switches: Switches, event: str, **entities: dict[str, Any]) -> str:
    """Queue the deliveries of an event as the switches say; the event's id.

    ``entities`` are named as Razorpay's ``contains`` lists them, in that order
    (``payment=..., order=...`` for ``order.paid``).
    """
    event_id = new_id("evt")
    body = event_body(event, entities)
    created = time.time()
    behaviour = switches.webhooks
    if switches.take_drop():
        log.info("webhook %s %s dropped on purpose (the drop switch)", event, event_id)
        await tx.add_delivery(
            event_id=event_id,
            event=event,
            body=body,
            status="dropped",
            created_at=created,
            next_attempt_at=created,
        )
        return event_id
    status = "held" if behaviour.reorder > 0 else "pending"
    for _ in range(behaviour.duplicate):
        await tx.add_delivery(
            event_id=event_id,
            event=event,
            body=body,
            status=status,
            created_at=created,
            next_attempt_at=created + behaviour.delay_seconds,
        )
    if status == "held" and len(await tx.deliveries(status="held")) >= behaviour.reorder:
        await tx.release_held(created + behaviour.delay_seconds)
    return event_id


def signature(body: bytes, webhook_secret: str) -> str:
    """``X-Razorpay-Signature`` of a body."""
    return hmac_sha256_hex(webhook_secret, body)


class WebhookSender:
    """Posts the due deliveries of the queue to the webhook URL."""

    def __init__(
        self,
        settings: SandboxSettings,
        store: Store,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.http = httpx.AsyncClient(
            timeout=settings.sandbox_webhook_timeout_seconds, transport=transport
        )

    def retry_delay(self, attempts: int) -> float:
        """How long to wait after the ``attempts``-th failed attempt (1, 2, ...)."""
        first = self.settings.sandbox_webhook_retry_seconds
        longest = self.settings.sandbox_webhook_max_retry_seconds
        return float(min(first * 2 ** (attempts - 1), longest))

    async def deliver_due(self) -> int:
        """Try every delivery that is due now, once; how many were tried."""
        async with self.store.transaction() as tx:
            due = await tx.deliveries(status="pending", due_by=time.time(), limit=BATCH)
        for delivery in due:
            await self._attempt(delivery)
        return len(due)

    async def _attempt(self, delivery: Delivery) -> None:
        attempt = delivery.attempts + 1
        error = await self._post(delivery)
        finished = time.time()
        if error is None:
            status, next_at = "delivered", finished
            log.info(
                "webhook %s %s attempt %d delivered", delivery.event, delivery.event_id, attempt
            )
        elif finished - delivery.created_at >= self.settings.sandbox_webhook_give_up_seconds:
            status, next_at = "failed", finished
            log.warning(
                "webhook %s %s attempt %d failed (%s): giving up",
                delivery.event,
                delivery.event_id,
                attempt,
                error,
            )
        else:
            status, next_at = "pending", finished + self.retry_delay(attempt)
            log.info(
                "webhook %s %s attempt %d failed (%s); retrying in %.1fs",
                delivery.event,
                delivery.event_id,
                attempt,
                error,
                next_at - finished,
            )
        async with self.store.transaction() as tx:
            await tx.record_attempt(
                delivery.seq,
                status=status,
                next_attempt_at=next_at,
                error=error,
                delivered_at=finished if error is None else None,
            )

    async def _post(self, delivery: Delivery) -> str | None:
        """Post one delivery; ``None`` if it was answered 2xx, else what went wrong."""
        headers = {
            "Content-Type": "application/json",
            "X-Razorpay-Signature": signature(delivery.body, self.settings.psp_webhook_secret),
            "X-Razorpay-Event-Id": delivery.event_id,
            "User-Agent": "Razorpay-Webhook/v1 (Tijori sandbox)",
        }
        try:
            answer = await self.http.post(
                self.settings.sandbox_webhook_url, content=delivery.body, headers=headers
            )
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if 200 <= answer.status_code < 300:
            return None
        return f"answered {answer.status_code}"

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()
