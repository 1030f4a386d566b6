"""Transactions' pre-check of a frozen sender and of the tiers' announced limits, on the
migrated databases: wallets tells a freeze and an unfreeze in the allowance at new
wallet versions, and announces its tiers' monthly limits when a process starts with
other ones; transactions refuses a frozen sender at once (423 wallet_frozen) and checks
every sender of a tier against the limit announced last, older news ignored."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from tests.unit import transfers
from tests.unit.allowances import account_of, knows, pending_amounts, wallet_events
from tests.unit.conftest import metric_value
from tijori.common.cache import MemoryCache
from tijori.common.db import UnitOfWorkFactory
from tijori.common.errors import UnprocessableError, WalletFrozenError
from tijori.common.events import (
    TransactionInitiated,
    TransferRejected,
    UserCreated,
    WalletLimitsChanged,
    WalletTierLimits,
)
from tijori.transactions import allowance
from tijori.transactions.models import TierLimit
from tijori.wallets import freezes, service
from tijori.wallets.config import WalletsSettings
from tijori.wallets.models import Wallet

SETTINGS = WalletsSettings(p2p_monthly_limit="50.00", full_p2p_monthly_limit="300.00")

# --- transactions: refusing at once ----------------------------------------------------


async def test_a_sender_known_frozen_is_refused_at_once_and_nothing_is_stored(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    await knows(transactions_units, frozen=True)
    counted = metric_value("tijori_precheck_refusals_total", code="wallet_frozen", limit="")
    with pytest.raises(WalletFrozenError) as refused:
        await transfers.accept(transactions_units, known, "1.00")
    assert (refused.value.status, refused.value.code) == (423, "wallet_frozen")
    # the freeze comes first, as in wallets: not 422 insufficient_funds for ₹1,000
    with pytest.raises(WalletFrozenError):
        await transfers.accept(transactions_units, known, "1000.00")
    assert (
        metric_value("tijori_precheck_refusals_total", code="wallet_frozen", limit="")
        == counted + 2
    )
    assert await pending_amounts(transactions_units) == []
    await knows(transactions_units, frozen=False)  # unfrozen, at a newer version
    await transfers.accept(transactions_units, known, "1.00")


async def _announced(units: UnitOfWorkFactory, version: int, minimum: int) -> None:
    announcement = WalletTierLimits(
        version=version, monthly_p2p_paise={"MINIMUM": minimum, "FULL": 1_000_000}
    )
    async with units() as uow:
        await allowance.learn_tier_limits(uow, announced=announcement)
        await uow.commit()


async def _tier_limits(units: UnitOfWorkFactory) -> dict[str, tuple[int, int]]:
    async with units() as uow:
        rows = (await uow.session.scalars(select(TierLimit))).all()
    return {row.tier: (row.monthly_p2p_paise, row.version) for row in rows}


async def test_an_announced_tier_limit_reaches_every_sender_of_the_tier_at_once(
    transactions_units: UnitOfWorkFactory, known: MemoryCache
) -> None:
    # told with a ₹50 limit, all of it sent
    await knows(transactions_units, tier="MINIMUM", monthly_p2p_paise=5_000, p2p_sent_paise=5_000)
    with pytest.raises(UnprocessableError) as refused:
        await transfers.accept(transactions_units, known, "1.00")
    assert refused.value.extra == {"limit": "monthly_p2p", "left": "0.00"}
    await _announced(transactions_units, 2, 10_000)  # the operator raised it to ₹100
    await transfers.accept(transactions_units, known, "1.00")
    # an older announcement arriving late changes nothing
    await _announced(transactions_units, 1, 5_000)
    assert await _tier_limits(transactions_units) == {
        "MINIMUM": (10_000, 2),
        "FULL": (1_000_000, 2),
    }
    # nor does an allowance told with the old limit (a wallets process not restarted yet)
    await knows(transactions_units, tier="MINIMUM", monthly_p2p_paise=5_000, p2p_sent_paise=5_000)
    await transfers.accept(transactions_units, known, "1.00")
    with pytest.raises(UnprocessableError) as left:  # ₹2 pending, ₹50 sent: ₹48 left
        await transfers.accept(transactions_units, known, "48.01")
    assert left.value.extra == {"limit": "monthly_p2p", "left": "48.00"}
    # an allowance told before tiers were: its own limit still counts
    await knows(transactions_units, monthly_p2p_paise=5_000, p2p_sent_paise=5_000)
    with pytest.raises(UnprocessableError):
        await transfers.accept(transactions_units, known, "1.00")
    assert (await account_of(transactions_units, "asha")).tier is None


# --- wallets: what it tells ------------------------------------------------------------


async def _open(units: UnitOfWorkFactory, user_id: str) -> None:
    user = UserCreated(
        user_id=user_id, name=user_id, email=f"{user_id}@x.co", phone="+919876543210"
    )
    async with units() as uow:
        await service.open_wallet(uow, user=user, promo_paise=10_000)
        await uow.commit()


async def _version(units: UnitOfWorkFactory, user_id: str) -> int:
    async with units() as uow:
        wallet = await uow.session.scalar(select(Wallet).where(Wallet.user_id == user_id))
        assert wallet is not None
        return wallet.version


async def test_a_freeze_and_an_unfreeze_tell_the_allowance_at_new_wallet_versions(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _open(wallets_units, "a")
    await _open(wallets_units, "b")
    opened = await _version(wallets_units, "a")
    async with wallets_units() as uow:
        await freezes.freeze(uow, user_id="a", by="USER", actor_id="a", settings=SETTINGS)
        await uow.commit()
    async with wallets_units() as uow:
        transfer = TransactionInitiated(
            transaction_id=str(uuid.uuid4()), sender_id="a", receiver_id="b", amount_paise=100
        )
        refused = await service.apply_transfer(uow, transfer=transfer, settings=SETTINGS)
        await uow.commit()
    async with wallets_units() as uow:
        await freezes.unfreeze_by_admin(
            uow, user_id="a", admin_id="admin", reason="Owner called", settings=SETTINGS
        )
        await uow.commit()
    frozen, unfrozen = await wallet_events(wallets_units, "wallet.limits_changed")
    assert isinstance(frozen, WalletLimitsChanged) and isinstance(unfrozen, WalletLimitsChanged)
    assert (frozen.version, frozen.allowance.frozen) == (opened + 1, True)
    assert (unfrozen.version, unfrozen.allowance.frozen) == (opened + 2, False)
    assert frozen.allowance.monthly_p2p_paise == 5_000
    # the refusal in between tells the same allowance at the same version
    assert isinstance(refused, TransferRejected) and refused.reason == "wallet_frozen"
    assert refused.sender_allowance == frozen.allowance
    assert refused.sender_version == frozen.version
    assert await _version(wallets_units, "a") == opened + 2


async def _announce(units: UnitOfWorkFactory, settings: WalletsSettings) -> WalletTierLimits | None:
    async with units() as uow:
        announced = await service.announce_tier_limits(uow, settings)
        await uow.commit()
    return announced


async def test_wallets_announces_its_tier_limits_when_they_differ_from_the_last_announced(
    wallets_units: UnitOfWorkFactory,
) -> None:
    first = await _announce(wallets_units, SETTINGS)
    assert first == WalletTierLimits(
        version=1, monthly_p2p_paise={"MINIMUM": 5_000, "FULL": 30_000}
    )
    assert await _announce(wallets_units, SETTINGS) is None  # a restart with the same
    raised = WalletsSettings(p2p_monthly_limit="80.00", full_p2p_monthly_limit="300.00")
    second = await _announce(wallets_units, raised)
    assert second is not None and second.version == 2
    assert second.monthly_p2p_paise == {"MINIMUM": 8_000, "FULL": 30_000}
    assert await wallet_events(wallets_units, "wallet.tier_limits") == [first, second]
