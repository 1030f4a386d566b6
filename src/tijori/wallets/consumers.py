"""Events the wallets service applies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tijori.common.app import ServiceRuntime
from tijori.common.db import UnitOfWork
from tijori.common.events import Envelope
from tijori.wallets import service
from tijori.wallets.config import WalletsSettings
from tijori.wallets.models import ProcessedEvent
from tijori.wallets.repository import WalletRepository


async def prefetch_transfers(uow: UnitOfWork, events: Sequence[Envelope[Any]]) -> None:
    """Lock the wallets and read the recorded outcomes of a batch's transfers at once."""
    transfers = [event.payload for event in events if event.type == "transaction.initiated"]
    if transfers:
        await WalletRepository(uow).prefetch_transfers(transfers)


def register_consumers(runtime: ServiceRuntime) -> None:
    """Add the wallets consumer (group ``wallets``) to the running service."""
    settings = runtime.settings
    assert isinstance(settings, WalletsSettings)

    async def on_user_created(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await service.open_wallet(
            uow,
            user=event.payload,
            promo_paise=settings.promo_balance,
            correlation_id=event.correlation_id,
        )

    async def on_transaction_initiated(uow: UnitOfWork, event: Envelope[Any]) -> None:
        await service.apply_transfer(
            uow, transfer=event.payload, correlation_id=event.correlation_id
        )

    runtime.consume(
        "wallets",
        processed_model=ProcessedEvent,
        handlers={
            "user.created": on_user_created,
            "transaction.initiated": on_transaction_initiated,
        },
        prefetch=prefetch_transfers,
    )
