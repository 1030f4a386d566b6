"""``tijori reconcile``: the gateway's books against Tijori's, every difference listed.

It reads what the gateway reports through its API (captured payments, refunds, processed
payouts) and, with plain SQL, the payments and wallets databases: each captured payment
must be a top-up credited once or refunded, each refund a refunded top-up, each processed
payout a processed withdrawal, and the money the gateway holds for users must be what
the wallets' gateway account owes them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import text

from tijori.common.db import create_engine
from tijori.common.money import format_paise
from tijori.payments.config import PaymentsSettings
from tijori.payments.desk import create_gateway
from tijori.payments.razorpay import Payment, Payout, Refund
from tijori.services import SERVICES
from tijori.wallets.models import GATEWAY_WALLET_ID

# a withdrawal's state that a payout's final state at the gateway agrees with
PAYOUT_AGREES = {"processed": {"PROCESSED"}, "reversed": {"REVERSED"}}


@dataclass
class Reconciliation:
    """What was compared, and every difference."""

    checks: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Whether the two sets of books agree."""
        return not self.differences

    def render(self) -> str:
        """A human-readable report."""
        lines = [f"  ok    {check}" for check in self.checks]
        lines += [f"  DIFF  {difference}" for difference in self.differences]
        verdict = "clean" if self.clean else f"{len(self.differences)} difference(s)"
        return "tijori reconcile: " + verdict + "\n" + "\n".join(lines)


async def _gateway_books(
    settings: PaymentsSettings,
) -> tuple[list[Payment], list[Refund], list[Payout]]:
    gateway = create_gateway(settings)
    try:
        payments = [payment async for payment in gateway.payments()]
        refunds = [refund async for refund in gateway.refunds()]
        payouts = [payout async for payout in gateway.payouts()]
    finally:
        await gateway.aclose()
    return payments, refunds, payouts


async def run_reconcile() -> Reconciliation:
    """Compare the gateway's captured payments, refunds and payouts with Tijori's."""
    settings = SERVICES["payments"].settings()
    assert isinstance(settings, PaymentsSettings)
    report = Reconciliation()
    payments, refunds, payouts = await _gateway_books(settings)
    payments_engine = create_engine(settings.resolved_database_url)
    wallets_engine = create_engine(SERVICES["wallets"].settings().resolved_database_url)
    try:
        async with payments_engine.connect() as connection:
            topups = {
                order_id: (topup_id, status, int(amount), payment_id)
                for topup_id, status, amount, order_id, payment_id in (
                    await connection.execute(
                        text("SELECT id, status, amount_paise, order_id, payment_id FROM topups")
                    )
                ).all()
            }
            withdrawals = {
                withdrawal_id: (status, int(amount))
                for withdrawal_id, status, amount in (
                    await connection.execute(
                        text("SELECT id, status, amount_paise FROM withdrawals")
                    )
                ).all()
            }
        async with wallets_engine.connect() as connection:
            owed = (
                await connection.execute(
                    text("SELECT balance_paise FROM wallets WHERE id = :id"),
                    {"id": GATEWAY_WALLET_ID},
                )
            ).scalar_one_or_none()
    finally:
        await payments_engine.dispose()
        await wallets_engine.dispose()

    refunded: dict[str, int] = defaultdict(int)
    for refund in refunds:
        if refund.status == "processed":
            refunded[refund.payment_id] += refund.amount_paise
    captured = [payment for payment in payments if payment.captured]
    seen_orders: set[str] = set()
    for payment in captured:
        topup = topups.get(payment.order_id or "")
        if topup is None:
            report.differences.append(
                f"payment {payment.id} of {format_paise(payment.amount_paise)} was captured "
                f"for order {payment.order_id}, which is no top-up"
            )
            continue
        topup_id, status, amount, payment_id = topup
        seen_orders.add(payment.order_id or "")
        back = refunded.get(payment.id, 0)
        want = "REFUNDED" if back >= payment.amount_paise else "CREDITED"
        if payment_id != payment.id or status != want or amount != payment.amount_paise:
            report.differences.append(
                f"payment {payment.id} ({format_paise(payment.amount_paise)}, refunded "
                f"{format_paise(back)}) is top-up {topup_id}: {status}, not {want}"
            )
    for order_id, (topup_id, status, _, _) in topups.items():
        if status in ("CREDITED", "REFUNDED", "CAPTURED") and order_id not in seen_orders:
            report.differences.append(
                f"top-up {topup_id} is {status}, but the gateway captured no payment for it"
            )
    final = [payout for payout in payouts if payout.status in PAYOUT_AGREES]
    paid_out = 0
    for payout in final:
        withdrawal = withdrawals.get(payout.reference_id or "")
        ours = withdrawal[0] if withdrawal is not None else "missing"
        if ours not in PAYOUT_AGREES[payout.status]:
            report.differences.append(
                f"payout {payout.id} ({format_paise(payout.amount_paise)}) is {payout.status}, "
                f"but withdrawal {payout.reference_id} is {ours}"
            )
        if payout.status == "processed":
            paid_out += payout.amount_paise
    processed_ids = {payout.reference_id for payout in final}
    for withdrawal_id, (status, _) in withdrawals.items():
        if status in ("PROCESSED", "REVERSED") and withdrawal_id not in processed_ids:
            report.differences.append(
                f"withdrawal {withdrawal_id} is {status}, but the gateway paid out no payout for it"
            )
    held = sum(payment.amount_paise - refunded.get(payment.id, 0) for payment in captured)
    users_own = -(owed or 0)
    if held - paid_out != users_own:
        report.differences.append(
            f"the gateway holds {format_paise(held - paid_out)} for Tijori (captured less "
            f"refunded and paid out), but the wallets owe users {format_paise(users_own)}"
        )
    report.checks.append(
        f"{len(captured)} captured payments, {len(refunds)} refunds and {len(final)} final "
        f"payouts at the gateway against {len(topups)} top-ups and {len(withdrawals)} "
        f"withdrawals; the gateway holds {format_paise(held - paid_out)} for users, "
        f"the wallets owe {format_paise(users_own)}"
    )
    return report
