"""``tijori audit``: reads each service's database and proves the money adds up.

It reads with plain SQL, as an auditor would, and trusts no service's code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tijori.common.clock import utcnow
from tijori.common.db import create_engine
from tijori.common.money import format_paise
from tijori.services import SERVICES


@dataclass
class AuditReport:
    """What the audit checked and every violation it found."""

    checks: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Whether no rule was broken."""
        return not self.violations

    def render(self) -> str:
        """A human-readable report."""
        lines = [f"  ok    {check}" for check in self.checks]
        lines += [f"  FAIL  {violation}" for violation in self.violations]
        verdict = "clean" if self.clean else f"{len(self.violations)} violation(s)"
        return "tijori audit: " + verdict + "\n" + "\n".join(lines)


async def audit_wallets(connection: AsyncConnection, report: AuditReport) -> None:
    """The ledger sums to zero, every movement balances, every balance equals its entries."""
    total = (
        await connection.execute(text("SELECT COALESCE(SUM(amount_paise), 0) FROM ledger_entries"))
    ).scalar_one()
    if total != 0:
        report.violations.append(f"the ledger sums to {format_paise(int(total))}, not 0.00")
    unbalanced = (
        await connection.execute(
            text(
                "SELECT reference, COUNT(*), SUM(amount_paise) FROM ledger_entries "
                "GROUP BY reference HAVING COUNT(*) <> 2 OR SUM(amount_paise) <> 0"
            )
        )
    ).all()
    for reference, count, amount in unbalanced:
        report.violations.append(
            f"movement {reference} has {count} entries summing to {format_paise(int(amount))}"
        )
    drifted = (
        await connection.execute(
            text(
                "SELECT w.id, w.balance_paise, COALESCE(SUM(e.amount_paise), 0) "
                "FROM wallets w LEFT JOIN ledger_entries e ON e.wallet_id = w.id "
                "GROUP BY w.id, w.balance_paise "
                "HAVING w.balance_paise <> COALESCE(SUM(e.amount_paise), 0)"
            )
        )
    ).all()
    for wallet_id, balance, entries in drifted:
        report.violations.append(
            f"wallet {wallet_id} shows {format_paise(int(balance))} but its entries sum to "
            f"{format_paise(int(entries))}"
        )
    negative = (
        await connection.execute(
            text("SELECT id, balance_paise FROM wallets WHERE kind = 'USER' AND balance_paise < 0")
        )
    ).all()
    for wallet_id, balance in negative:
        report.violations.append(f"wallet {wallet_id} is negative: {format_paise(int(balance))}")
    counts = (
        await connection.execute(
            text("SELECT (SELECT COUNT(*) FROM wallets), (SELECT COUNT(*) FROM ledger_entries)")
        )
    ).one()
    report.checks.append(
        f"wallets: {counts[0]} wallets, {counts[1]} entries; ledger sums to zero, "
        "every movement is one balanced pair, balances equal entries, none negative"
    )


async def audit_transactions(
    transactions: AsyncConnection,
    wallets: AsyncConnection,
    report: AuditReport,
    *,
    pending_timeout: timedelta,
) -> None:
    """Every SUCCESS has exactly one entry pair, every FAILED none, money moved only for
    SUCCESS (or a PENDING about to learn it), and nothing PENDING past the timeout."""
    statuses: dict[str, str] = {
        txn_id: status
        for txn_id, status in (
            await transactions.execute(text("SELECT id, status FROM transactions"))
        ).all()
    }
    moved: dict[str, int] = {
        reference: int(count)
        for reference, count in (
            await wallets.execute(
                text(
                    "SELECT reference, COUNT(*) FROM ledger_entries "
                    "WHERE kind = 'TRANSFER' GROUP BY reference"
                )
            )
        ).all()
    }
    for txn_id, status in statuses.items():
        entries = moved.get(txn_id, 0)
        if status == "SUCCESS" and entries != 2:
            report.violations.append(
                f"SUCCESS transaction {txn_id} has {entries} ledger entries, not 2"
            )
        if status == "FAILED" and entries:
            report.violations.append(f"FAILED transaction {txn_id} moved money ({entries} entries)")
    for reference in moved.keys() - statuses.keys():
        report.violations.append(f"ledger movement {reference} belongs to no transaction")
    cutoff = utcnow() - pending_timeout
    stale = (
        await transactions.execute(
            text(
                "SELECT id, created_at FROM transactions "
                "WHERE status = 'PENDING' AND created_at < :cutoff"
            ),
            {"cutoff": cutoff.replace(tzinfo=None)},
        )
    ).all()
    for txn_id, created_at in stale:
        report.violations.append(f"transaction {txn_id} is PENDING since {created_at}")
    counts = {
        status: list(statuses.values()).count(status) for status in ("SUCCESS", "FAILED", "PENDING")
    }
    report.checks.append(
        f"transactions: {counts['SUCCESS']} SUCCESS with one entry pair each, {counts['FAILED']} "
        f"FAILED with none, {counts['PENDING']} PENDING, none older than "
        f"{pending_timeout.total_seconds():.0f}s"
    )


async def _count_by_reference(
    connection: AsyncConnection, kind: str, prefix: str
) -> dict[str, int]:
    """Ledger entries of ``kind`` by the id after ``prefix`` in their reference."""
    rows = await connection.execute(
        text(
            "SELECT reference, COUNT(*) FROM ledger_entries WHERE kind = :kind GROUP BY reference"
        ),
        {"kind": kind},
    )
    return {
        reference.removeprefix(prefix): int(count)
        for reference, count in rows.all()
        if reference.startswith(prefix)
    }


async def audit_holds(
    connection: AsyncConnection, report: AuditReport, *, grace: timedelta
) -> None:
    """Every wallet's holds equal its HELD holds and never pass its balance; a posted hold
    has one withdrawal pair (and a returned one a second, back), a voided or refused one
    none; none is HELD past its expiry."""
    drifted = (
        await connection.execute(
            text(
                "SELECT w.id, w.held_paise, COALESCE(SUM(h.amount_paise), 0) FROM wallets w "
                "LEFT JOIN holds h ON h.wallet_id = w.id AND h.status = 'HELD' "
                "GROUP BY w.id, w.held_paise "
                "HAVING w.held_paise <> COALESCE(SUM(h.amount_paise), 0)"
            )
        )
    ).all()
    for wallet_id, held, holds in drifted:
        report.violations.append(
            f"wallet {wallet_id} shows {format_paise(int(held))} held but its holds sum to "
            f"{format_paise(int(holds))}"
        )
    overdrawn = (
        await connection.execute(
            text("SELECT id FROM wallets WHERE kind = 'USER' AND held_paise > balance_paise")
        )
    ).all()
    for (wallet_id,) in overdrawn:
        report.violations.append(f"wallet {wallet_id} holds more than its balance")
    posted = await _count_by_reference(connection, "WITHDRAWAL", "withdrawal:")
    returned = await _count_by_reference(connection, "PAYOUT_RETURN", "return:")
    holds = (await connection.execute(text("SELECT id, status, expires_at FROM holds"))).all()
    cutoff = (utcnow() - grace).replace(tzinfo=None)
    statuses: dict[str, str] = {}
    for hold_id, status, expires_at in holds:
        statuses[hold_id] = status
        want = (2 if status in ("POSTED", "RETURNED") else 0, 2 if status == "RETURNED" else 0)
        have = (posted.get(hold_id, 0), returned.get(hold_id, 0))
        if have != want:
            report.violations.append(
                f"{status} hold {hold_id} has {have[0]} withdrawal and {have[1]} return entries"
            )
        if status == "HELD" and expires_at.replace(tzinfo=None) < cutoff:
            report.violations.append(f"hold {hold_id} is HELD past its expiry ({expires_at})")
    for reference in (posted.keys() | returned.keys()) - statuses.keys():
        report.violations.append(f"withdrawal movement {reference} belongs to no hold")
    by_status = {status: list(statuses.values()).count(status) for status in set(statuses.values())}
    summary = ", ".join(f"{count} {status}" for status, count in sorted(by_status.items()))
    report.checks.append(
        f"holds: {len(holds)} ({summary or 'none'}); "
        "each wallet's holds add up and stay within its balance, each settled exactly once"
    )


async def audit_payments(
    payments: AsyncConnection, wallets: AsyncConnection, report: AuditReport
) -> None:
    """Every CREDITED top-up was credited once and nothing else was; a refunded or failed
    one never; every withdrawal's hold agrees with its state."""
    credited = await _count_by_reference(wallets, "TOPUP", "topup:")
    topups: dict[str, str] = dict(
        (await payments.execute(text("SELECT id, status FROM topups"))).tuples().all()
    )
    for topup_id, status in topups.items():
        entries = credited.get(topup_id, 0)
        # CAPTURED: wallets may have credited it and payments not heard yet
        if status == "CREDITED" and entries != 2:
            report.violations.append(f"CREDITED top-up {topup_id} has {entries} entries, not 2")
        if status in ("CREATED", "FAILED", "REFUNDED") and entries:
            report.violations.append(f"{status} top-up {topup_id} was credited")
    for topup_id in credited.keys() - topups.keys():
        report.violations.append(f"top-up credit {topup_id} belongs to no top-up")
    holds: dict[str, str] = dict(
        (await wallets.execute(text("SELECT id, status FROM holds"))).tuples().all()
    )
    withdrawals: dict[str, str] = dict(
        (await payments.execute(text("SELECT id, status FROM withdrawals"))).tuples().all()
    )
    agree: dict[str, set[str | None]] = {
        "PROCESSED": {"POSTED", "HELD"},  # HELD: wallets has not posted it yet
        "FAILED": {"VOIDED", "REFUSED", "HELD", None},
        "REVERSED": {"RETURNED", "VOIDED", "POSTED", "HELD"},
    }
    for withdrawal_id, status in withdrawals.items():
        hold = holds.get(withdrawal_id)
        if status in agree and hold not in agree[status]:
            report.violations.append(f"{status} withdrawal {withdrawal_id} has a {hold} hold")
        if status in ("REQUESTED", "HELD", "PROCESSING") and hold in ("POSTED", "VOIDED"):
            report.violations.append(f"{status} withdrawal {withdrawal_id} has a {hold} hold")
    for hold_id in holds.keys() - withdrawals.keys():
        report.violations.append(f"hold {hold_id} belongs to no withdrawal")
    report.checks.append(
        f"payments: {len(topups)} top-ups, each credited once if CREDITED and never otherwise; "
        f"{len(withdrawals)} withdrawals, each agreeing with its hold"
    )


async def run_audit(*, pending_grace: timedelta = timedelta(seconds=60)) -> AuditReport:
    """Audit every service database that holds money.

    A transaction may be PENDING for the re-drive timeout plus ``pending_grace`` before
    it counts as stuck.
    """
    report = AuditReport()
    transactions_settings = SERVICES["transactions"].settings()
    wallets_engine = create_engine(SERVICES["wallets"].settings().resolved_database_url)
    transactions_engine = create_engine(transactions_settings.resolved_database_url)
    payments_engine = create_engine(SERVICES["payments"].settings().resolved_database_url)
    try:
        async with (
            wallets_engine.connect() as wallets,
            transactions_engine.connect() as transactions,
            payments_engine.connect() as payments,
        ):
            await audit_wallets(wallets, report)
            await audit_holds(wallets, report, grace=pending_grace)
            await audit_payments(payments, wallets, report)
            await audit_transactions(
                transactions,
                wallets,
                report,
                pending_timeout=timedelta(seconds=transactions_settings.pending_timeout_seconds)
                + pending_grace,
            )
    finally:
        await wallets_engine.dispose()
        await transactions_engine.dispose()
        await payments_engine.dispose()
    return report
