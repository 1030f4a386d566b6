"""Events the payments service applies, and the loop that asks the gateway about what no
webhook settled (orders not paid yet, refunds due, payouts to request or follow)."""

from __future__ import annotations

import functools
import logging
from typing import Any

from tijori.common.app import ServiceRuntime
from tijori.common.clock import utcnow, woken
from tijori.common.db import UnitOfWork, retry_transient
from tijori.common.events import Envelope
from tijori.payments import topups, withdrawals
from tijori.payments.config import PaymentsSettings
from tijori.payments.desk import PaymentsDesk, create_gateway, create_wallets_reader
from tijori.payments.models import ProcessedEvent
from tijori.payments.repository import PaymentsRepository

log = logging.getLogger(__name__)


async def check_due(desk: PaymentsDesk) -> int:
    """Ask the gateway about every top-up and withdrawal whose time has come, one by one
    (each outside any database transaction); how many."""
    async with desk.units() as uow:
        repository = PaymentsRepository(uow)
        now = utcnow()
        due_topups = list(await repository.topups_to_check(now))
        due_withdrawals = list(await repository.withdrawals_to_check(now))
    for topup in due_topups:
        await retry_transient(functools.partial(topups.check, desk, topup), what="top-up check")
    for withdrawal in due_withdrawals:
        await retry_transient(
            functools.partial(withdrawals.check, desk, withdrawal), what="withdrawal check"
        )
    return len(due_topups) + len(due_withdrawals)


def register_consumers(runtime: ServiceRuntime) -> None:
    """Build the payments desk, and add the payments consumer (group ``payments``) and
    the gateway check loop."""
    settings = runtime.settings
    assert isinstance(settings, PaymentsSettings)
    desk = PaymentsDesk(
        units=runtime.unit_of_work,
        gateway=create_gateway(settings),
        wallets=create_wallets_reader(settings),
        settings=settings,
    )
    runtime.components["payments_desk"] = desk
    runtime.closing += [desk.gateway.aclose, desk.wallets.aclose]

    async def check_forever() -> None:
        while True:
            done = await check_due(desk)
            if done:
                continue  # more may be due
            desk.checks_due.clear()
            await woken(desk.checks_due, settings.check_poll_seconds)

    async def on_user_created(uow: UnitOfWork, event: Envelope[Any]) -> None:
        user = event.payload
        await PaymentsRepository(uow).remember_customer(
            user_id=user.user_id, name=user.name, email=user.email
        )

    async def on_topup_credited(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await topups.on_credited(uow, event.payload)

    async def on_topup_rejected(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await topups.on_rejected(uow, event.payload, desk)

    async def on_hold_updated(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await withdrawals.on_hold_updated(uow, event.payload, desk)

    runtime.workers.append(check_forever)
    runtime.consume(
        "payments",
        processed_model=ProcessedEvent,
        handlers={
            "user.created": on_user_created,
            "topup.credited": on_topup_credited,
            "topup.rejected": on_topup_rejected,
            "hold.updated": on_hold_updated,
        },
    )
