"""``tijori audit`` catches every way the ledger can go wrong."""

from __future__ import annotations

from sqlalchemy import text

from tests.unit.conftest import SessionFactory
from tijori.audit import AuditReport, audit_wallets
from tijori.common.events import UserCreated
from tijori.wallets import service


async def _audit(sessions: SessionFactory) -> AuditReport:
    report = AuditReport()
    async with sessions() as session:
        connection = await session.connection()
        await audit_wallets(connection, report)
    return report


async def _open(sessions: SessionFactory, user_id: str) -> str:
    user = UserCreated(user_id=user_id, name="n", email=f"{user_id}@x.co", phone="+919876543210")
    async with sessions() as session, session.begin():
        wallet = await service.open_wallet(session, user=user, promo_paise=10_000)
    return wallet.id


async def test_a_correct_ledger_is_clean(wallets_sessions: SessionFactory) -> None:
    await _open(wallets_sessions, "a")
    await _open(wallets_sessions, "b")
    report = await _audit(wallets_sessions)
    assert report.clean, report.render()
    assert "2 entries" not in report.render() and "4 entries" in report.render()


async def test_a_balance_that_drifts_from_its_entries_is_reported(
    wallets_sessions: SessionFactory,
) -> None:
    wallet_id = await _open(wallets_sessions, "a")
    async with wallets_sessions() as session, session.begin():
        await session.execute(
            text("UPDATE wallets SET balance_paise = balance_paise + 1 WHERE id = :id"),
            {"id": wallet_id},
        )
    report = await _audit(wallets_sessions)
    assert not report.clean
    assert any(
        wallet_id in violation and "entries sum to" in violation for violation in report.violations
    )


async def test_money_created_from_nothing_is_reported(wallets_sessions: SessionFactory) -> None:
    wallet_id = await _open(wallets_sessions, "a")
    async with wallets_sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO ledger_entries (wallet_id, counterparty_wallet_id, reference, kind,"
                " amount_paise, balance_after_paise, created_at)"
                " VALUES (:w, :w, 'forged', 'TRANSFER', 500, 10500, '2026-01-01 00:00:00')"
            ),
            {"w": wallet_id},
        )
        await session.execute(
            text("UPDATE wallets SET balance_paise = 10500 WHERE id = :id"), {"id": wallet_id}
        )
    report = await _audit(wallets_sessions)
    assert any("sums to 5.00" in v for v in report.violations)
    assert any("forged has 1 entries" in v for v in report.violations)


async def test_a_negative_user_balance_is_reported(wallets_sessions: SessionFactory) -> None:
    wallet_id = await _open(wallets_sessions, "a")
    async with wallets_sessions() as session, session.begin():
        await session.execute(text("UPDATE ledger_entries SET amount_paise = -amount_paise"))
        await session.execute(text("UPDATE wallets SET balance_paise = -balance_paise"))
    report = await _audit(wallets_sessions)
    assert any(f"wallet {wallet_id} is negative: -100.00" == v for v in report.violations)
