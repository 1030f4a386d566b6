"""``tijori audit``: reads each service's database and proves the money adds up.

It reads with plain SQL, as an auditor would, and trusts no service's code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

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


async def run_audit() -> AuditReport:
    """Audit every service database that holds money."""
    report = AuditReport()
    engine = create_engine(SERVICES["wallets"].settings().resolved_database_url)
    try:
        async with engine.connect() as connection:
            await audit_wallets(connection, report)
    finally:
        await engine.dispose()
    return report
