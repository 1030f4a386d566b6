"""``tijori audit`` catches every way the ledger can go wrong."""

from __future__ import annotations

from sqlalchemy import text

from tijori.audit import AuditReport, audit_wallets
from tijori.common.db import UnitOfWorkFactory
from tijori.common.events import UserCreated
from tijori.wallets import service


async def _audit(units: UnitOfWorkFactory) -> AuditReport:
    report = AuditReport()
    async with units() as uow:
        connection = await uow.session.connection()
        await audit_wallets(connection, report)
    return report


async def _open(units: UnitOfWorkFactory, user_id: str) -> str:
    user = UserCreated(user_id=user_id, name="n", email=f"{user_id}@x.co", phone="+919876543210")
    async with units() as uow:
        wallet = await service.open_wallet(uow, user=user, promo_paise=10_000)
        await uow.commit()
    return wallet.id


async def test_a_correct_ledger_is_clean(wallets_units: UnitOfWorkFactory) -> None:
    await _open(wallets_units, "a")
    await _open(wallets_units, "b")
    report = await _audit(wallets_units)
    assert report.clean, report.render()
    assert "2 entries" not in report.render() and "4 entries" in report.render()


async def test_a_balance_that_drifts_from_its_entries_is_reported(
    wallets_units: UnitOfWorkFactory,
) -> None:
    wallet_id = await _open(wallets_units, "a")
    async with wallets_units() as uow:
        await uow.session.execute(
            text("UPDATE wallets SET balance_paise = balance_paise + 1 WHERE id = :id"),
            {"id": wallet_id},
        )
        await uow.commit()
    report = await _audit(wallets_units)
    assert not report.clean
    assert any(
        wallet_id in violation and "entries sum to" in violation for violation in report.violations
    )


async def test_money_created_from_nothing_is_reported(wallets_units: UnitOfWorkFactory) -> None:
    wallet_id = await _open(wallets_units, "a")
    async with wallets_units() as uow:
        await uow.session.execute(
            text(
                "INSERT INTO ledger_entries (wallet_id, counterparty_wallet_id, reference, kind,"
                " amount_paise, balance_after_paise, created_at)"
                " VALUES (:w, :w, 'forged', 'TRANSFER', 500, 10500, '2026-01-01 00:00:00')"
            ),
            {"w": wallet_id},
        )
        await uow.session.execute(
            text("UPDATE wallets SET balance_paise = 10500 WHERE id = :id"), {"id": wallet_id}
        )
        await uow.commit()
    report = await _audit(wallets_units)
    assert any("sums to 5.00" in v for v in report.violations)
    assert any("forged has 1 entries" in v for v in report.violations)


async def test_a_negative_user_balance_is_reported(wallets_units: UnitOfWorkFactory) -> None:
    wallet_id = await _open(wallets_units, "a")
    async with wallets_units() as uow:
        await uow.session.execute(text("UPDATE ledger_entries SET amount_paise = -amount_paise"))
        await uow.session.execute(text("UPDATE wallets SET balance_paise = -balance_paise"))
        await uow.commit()
    report = await _audit(wallets_units)
    assert any(f"wallet {wallet_id} is negative: -100.00" == v for v in report.violations)
