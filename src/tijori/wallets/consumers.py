"""Events the wallets service applies."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from tijori.common.app import ServiceRuntime
from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork, retry_transient
from tijori.common.events import Envelope
from tijori.wallets import holds, service, topups
from tijori.wallets.config import WalletsSettings
from tijori.wallets.credentials import PasswordChecker
from tijori.wallets.models import ProcessedEvent
from tijori.wallets.repository import WalletRepository

# the events about one user's wallet other than transfers, whose wallets a batch locks first
_OF_ONE_WALLET = (
    "topup.captured",
    "withdrawal.requested",
    "withdrawal.settled",
    "user.kyc_updated",
    "user.email_verified",
)


async def prefetch_transfers(uow: UnitOfWork, events: Sequence[Envelope[Any]]) -> None:
    """Lock the wallets and read the recorded outcomes of a batch's transfers at once;
    the wallets of its top-ups and withdrawals are locked in the same statement, so a
    system account is always locked after every user wallet of the batch."""
    transfers = [event.payload for event in events if event.type == "transaction.initiated"]
    repository = WalletRepository(uow)
    users = [event.payload.user_id for event in events if event.type in _OF_ONE_WALLET]
    if users:
        users += [
            user for transfer in transfers for user in (transfer.sender_id, transfer.receiver_id)
        ]
        await repository.lock_of_users(*users)
    if transfers:
        await repository.prefetch_transfers(transfers)


def register_consumers(runtime: ServiceRuntime) -> None:
    """Build the client of users' password check, and add the wallets consumer (group
    ``wallets``) to the running service, with the announcement of its tier limits at
    start-up (``wallet.tier_limits``, when they changed)."""
    settings = runtime.settings
    assert isinstance(settings, WalletsSettings)
    urls = [url.strip() for url in settings.users_url.split(",") if url.strip()]
    checker = PasswordChecker(urls, timeout=settings.users_timeout_seconds)
    runtime.components["password_checker"] = checker
    runtime.closing.append(checker.aclose)

    async def on_user_created(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await service.open_wallet(
            uow,
            user=event.payload,
            promo_paise=settings.promo_balance,
            correlation_id=event.correlation_id,
        )

    async def on_user_email_verified(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await service.credit_promotion(
            uow,
            verified=event.payload,
            promo_paise=settings.promo_balance,
            correlation_id=event.correlation_id,
        )

    async def on_transaction_initiated(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await service.apply_transfer(
            uow, transfer=event.payload, settings=settings, correlation_id=event.correlation_id
        )

    async def on_user_kyc_updated(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await service.apply_kyc(
            uow, update=event.payload, settings=settings, correlation_id=event.correlation_id
        )

    async def on_topup_captured(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await topups.credit_topup(
            uow, topup=event.payload, settings=settings, correlation_id=event.correlation_id
        )

    async def on_withdrawal_requested(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await holds.place_hold(
            uow,
            request=event.payload,
            hold_for=timedelta(seconds=settings.hold_timeout_seconds),
            settings=settings,
            correlation_id=event.correlation_id,
        )

    async def on_withdrawal_settled(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await holds.settle_hold(
            uow,
            settled=event.payload,
            settings=settings,
            correlation_id=event.correlation_id,
        )

    async def expire_holds_forever() -> None:
        async def once() -> None:
            async with runtime.unit_of_work() as uow:
                now = utcnow()
                await holds.void_expired_holds(uow, now=now, settings=settings)
                await holds.measure_holds(uow, now=now)
                await uow.commit()

        while True:
            await retry_transient(once, what="hold expiry")
            await asyncio.sleep(settings.hold_expiry_poll_seconds)

    async def announce_tier_limits() -> None:
        async def once() -> None:
            async with runtime.unit_of_work() as uow:
                await service.announce_tier_limits(uow, settings)
                await uow.commit()

        await retry_transient(once, what="tier limits announcement")

    if runtime.bus is not None:
        runtime.workers.append(expire_holds_forever)
        # every role: any wallets process may be the first to run with new limits
        runtime.starting.append(announce_tier_limits)
    runtime.consume(
        "wallets",
        processed_model=ProcessedEvent,
        handlers={
            "user.created": on_user_created,
            "user.email_verified": on_user_email_verified,
            "transaction.initiated": on_transaction_initiated,
            "user.kyc_updated": on_user_kyc_updated,
            "topup.captured": on_topup_captured,
            "withdrawal.requested": on_withdrawal_requested,
            "withdrawal.settled": on_withdrawal_settled,
        },
        prefetch=prefetch_transfers,
    )
