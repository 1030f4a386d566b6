"""All SQL of the wallets service."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select

from tijori.common.clock import utcnow
from tijori.common.db import UnitOfWork, keyed, row_of
from tijori.common.events import TransactionInitiated
from tijori.wallets.ledger import LedgerError, LedgerPair
from tijori.wallets.models import (
    TIER_LIMITS_ROW,
    Hold,
    LedgerEntry,
    LimitChange,
    TierLimitsAnnounced,
    TopupCredit,
    Transfer,
    Wallet,
    WalletFreeze,
)

# wallets a batch of transfers locks; refreshed from the database when locked
_LOCK_WALLETS = keyed(
    select(Wallet).with_for_update().execution_options(populate_existing=True), Wallet.user_id
)
# recorded outcomes of a batch's transfers
_RECORDED = keyed(select(Transfer), Transfer.transaction_id)

# what the unit of work remembers for this repository, per database transaction
_LOCKED = "wallets.locked"  # user id -> the wallet locked (None: no wallet)
_RECORDED_OUTCOMES = "wallets.recorded"  # transaction id -> its outcome (None: not yet)
_BY_ID = "wallets.by_id"  # wallet id -> every wallet this transaction holds
_HOLDS = "wallets.holds"  # hold id -> the hold locked or staged in this transaction
_TOPUPS = "wallets.topups"  # top-up id -> its outcome staged in this transaction


def _paid_once_more(wallet: Wallet, day: str, paise: int) -> tuple[str, int, int]:
    """``wallet``'s day counters with one more payment of ``paise`` on ``day``: an
    earlier day's counters start again."""
    if wallet.pay_day != day:
        return day, paise, 1
    return day, wallet.day_paid_paise + paise, wallet.day_payments + 1


class WalletRepository:
    """Reads and writes wallets and ledger entries in one unit of work.

    Within one database transaction it remembers the wallets it has locked and the
    transfers it has looked up, so a batch of transfers can lock and read everything at
    once (:meth:`prefetch_transfers`) and each transfer then finds what it needs without
    another query. Locked wallets are held by the unit of work: they change only through
    this repository's methods (:meth:`post`, :meth:`freeze`), written at commit with
    the batch's others.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self._by_id: dict[str, Wallet] = uow.remembered(_BY_ID)

    async def get_by_user(self, user_id: str) -> Wallet | None:
        """The wallet of ``user_id`` (to read, not to change)."""
        return await self.session.scalar(select(Wallet).where(Wallet.user_id == user_id))

    async def lock(self, *wallet_ids: str) -> dict[str, Wallet]:
        """Lock the wallets ``SELECT ... FOR UPDATE``, lowest id first; by id, those found."""
        wallets: dict[str, Wallet] = {}
        for wallet_id in sorted(set(wallet_ids)):
            if wallet_id in self._by_id:
                wallets[wallet_id] = self._by_id[wallet_id]
                continue
            wallet = await self.session.scalar(
                select(Wallet)
                .where(Wallet.id == wallet_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            if wallet is not None:
                wallets[wallet_id] = wallet
        return self._hold(wallets)

    async def lock_of_users(self, *user_ids: str) -> dict[str, Wallet]:
        """Lock the wallets of ``user_ids`` in one statement, in user id order; by user id,
        those found.

        Every transfer (and every batch of them) locks in this one order, so two over the
        same wallets queue instead of deadlocking.
        """
        wallets = await self.uow.read_once(_LOCKED, _LOCK_WALLETS, user_ids)
        return self._hold(wallets)

    def _hold(self, wallets: dict[str, Wallet]) -> dict[str, Wallet]:
        """Locked wallets, held by the unit of work; a wallet locked again in this
        transaction is the one held already, whose balance may be ahead of the
        database's."""
        fresh = [wallet for wallet in wallets.values() if wallet.id not in self._by_id]
        self.uow.hold(fresh)
        self._by_id.update((wallet.id, wallet) for wallet in fresh)
        return {key: self._by_id[wallet.id] for key, wallet in wallets.items()}

    async def recorded_transfers(self, transaction_ids: Iterable[str]) -> dict[str, Transfer]:
        """The recorded outcomes of those of ``transaction_ids`` already applied or refused."""
        return await self.uow.read_once(_RECORDED_OUTCOMES, _RECORDED, transaction_ids)

    async def get_transfer(self, transaction_id: str) -> Transfer | None:
        """The recorded outcome of ``transaction_id``, if it was already applied or refused."""
        return (await self.recorded_transfers([transaction_id])).get(transaction_id)

    async def prefetch_transfers(self, transfers: Sequence[TransactionInitiated]) -> None:
        """Lock every wallet these transfers touch and read their recorded outcomes: two
        statements for the whole batch."""
        users = [
            user for transfer in transfers for user in (transfer.sender_id, transfer.receiver_id)
        ]
        await self.lock_of_users(*users)
        await self.recorded_transfers(transfer.transaction_id for transfer in transfers)

    def record(self, transfer: Transfer) -> None:
        """Stage the outcome of a transfer (written at commit); later lookups in this
        transaction find it."""
        self.uow.insert_at_commit(Transfer, row_of(transfer))
        self.uow.remembered(_RECORDED_OUTCOMES)[transfer.transaction_id] = transfer

    def post(
        self,
        pair: LedgerPair,
        *,
        sent_in_month: str | None = None,
        paid_on_day: str | None = None,
    ) -> None:
        """Stage the two ledger entries of a movement and set both wallets' new balances
        (written at commit, with those of every other movement of the transaction).

        With ``sent_in_month`` (a transfer to a person), the amount is also counted as
        sent by the paying wallet in that month; with ``paid_on_day`` (a payment of the
        user's own), as one more payment of that day (wallets/limits.py). Both wallets
        are staged with the same columns, counters included, so a batch of movements is
        still one ``UPDATE`` of ``wallets`` (docs/performance.md).

        The pair must have been built on the wallets' current balances: one built before
        another movement of the same wallet was posted is refused."""
        for entry in pair.entries:
            wallet = self._by_id[entry.wallet_id]
            if wallet.balance_paise + entry.amount_paise != entry.balance_after_paise:
                raise LedgerError(f"a movement built on a stale balance of wallet {wallet.id}")
        for entry in pair.entries:
            wallet = self._by_id[entry.wallet_id]
            month, sent = wallet.p2p_month, wallet.p2p_sent_paise
            day, paid, payments = wallet.pay_day, wallet.day_paid_paise, wallet.day_payments
            if sent_in_month is not None and entry is pair.debit:
                sent = (sent if month == sent_in_month else 0) - entry.amount_paise
                month = sent_in_month
            if paid_on_day is not None and entry is pair.debit:
                day, paid, payments = _paid_once_more(wallet, paid_on_day, -entry.amount_paise)
            self.uow.update(
                wallet,
                balance_paise=entry.balance_after_paise,
                version=wallet.version + 1,
                p2p_month=month,
                p2p_sent_paise=sent,
                pay_day=day,
                day_paid_paise=paid,
                day_payments=payments,
            )
        # vars(), not dataclasses.asdict: that deep-copies every value (docs/performance.md)
        self.uow.insert_at_commit(LedgerEntry, *(vars(entry) for entry in pair.entries))

    async def lock_hold(self, hold_id: str) -> Hold | None:
        """Lock the hold ``hold_id`` (after its wallet: every path locks wallets first);
        one staged or locked earlier in this transaction is the one returned."""
        holds: dict[str, Hold] = self.uow.remembered(_HOLDS)
        if hold_id in holds:
            return holds[hold_id]
        hold = await self.session.scalar(
            select(Hold)
            .where(Hold.id == hold_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if hold is not None:
            self.uow.hold([hold])
            holds[hold_id] = hold
        return hold

    def add_hold(self, hold: Hold, *, paid_on_day: str | None = None) -> None:
        """Add a new hold (inserted at commit) and, if it is HELD, count it in its locked
        wallet's holds, and with ``paid_on_day`` as a payment of the user's own that day
        (a withdrawal; wallets/limits.py)."""
        self.session.add(hold)
        self.uow.remembered(_HOLDS)[hold.id] = hold
        if hold.status == "HELD":
            wallet = self._by_id[hold.wallet_id]
            day, paid, payments = wallet.pay_day, wallet.day_paid_paise, wallet.day_payments
            if paid_on_day is not None:
                day, paid, payments = _paid_once_more(wallet, paid_on_day, hold.amount_paise)
            self.uow.update(
                wallet,
                held_paise=wallet.held_paise + hold.amount_paise,
                version=wallet.version + 1,
                pay_day=day,
                day_paid_paise=paid,
                day_payments=payments,
            )

    def settle_hold(
        self, hold: Hold, *, status: str, reason: str | None = None, paid_on_day: str | None = None
    ) -> None:
        """Move a locked HELD hold to POSTED or VOIDED and release it from its locked
        wallet's holds; the caller posts the money of a POSTED one (:meth:`post`). A
        VOIDED hold placed on ``paid_on_day`` no longer counts as a payment of that day,
        if that is still the day the wallet counts (the money never left)."""
        if hold.status != "HELD" or status not in ("POSTED", "VOIDED"):
            raise LedgerError(f"hold {hold.id} is {hold.status}: it cannot become {status}")
        wallet = self._by_id[hold.wallet_id]
        paid, payments = wallet.day_paid_paise, wallet.day_payments
        if status == "VOIDED" and paid_on_day is not None and wallet.pay_day == paid_on_day:
            paid, payments = max(paid - hold.amount_paise, 0), max(payments - 1, 0)
        self.uow.update(
            wallet,
            held_paise=wallet.held_paise - hold.amount_paise,
            version=wallet.version + 1,
            day_paid_paise=paid,
            day_payments=payments,
        )
        self.uow.update(hold, status=status, reason=reason)

    def mark_returned(self, hold: Hold) -> None:
        """Record that a posted hold's money came back (its credit is posted by the caller)."""
        if hold.status != "POSTED":
            raise LedgerError(f"hold {hold.id} is {hold.status}: only a posted one returns")
        self.uow.update(hold, status="RETURNED")

    async def expired_holds(self, now: datetime, *, limit: int) -> list[Hold]:
        """HELD holds past their expiry, oldest first (to read; void each under its lock)."""
        return list(
            (
                await self.session.scalars(
                    select(Hold)
                    .where(Hold.status == "HELD", Hold.expires_at < now)
                    .order_by(Hold.expires_at)
                    .limit(limit)
                )
            ).all()
        )

    async def outstanding_holds(self) -> tuple[int, datetime | None]:
        """How many holds are HELD, and when the oldest was placed."""
        row = (
            await self.session.execute(
                select(func.count(), func.min(Hold.created_at)).where(Hold.status == "HELD")
            )
        ).one()
        oldest = row[1]
        if oldest is not None and oldest.tzinfo is None:  # an aggregate skips the column type
            oldest = oldest.replace(tzinfo=UTC)
        return int(row[0]), oldest

    async def get_topup_credit(self, topup_id: str) -> TopupCredit | None:
        """The recorded outcome of the top-up ``topup_id``, if it was already decided."""
        staged: dict[str, TopupCredit] = self.uow.remembered(_TOPUPS)
        if topup_id in staged:
            return staged[topup_id]
        return await self.session.get(TopupCredit, topup_id)

    async def loaded_since(self, user_id: str, since: datetime) -> int:
        """Paise added to the wallet of ``user_id`` by top-ups credited since ``since``."""
        total = await self.session.scalar(
            select(func.coalesce(func.sum(TopupCredit.amount_paise), 0)).where(
                TopupCredit.user_id == user_id,
                TopupCredit.status == "CREDITED",
                TopupCredit.created_at >= since,
            )
        )
        return int(total or 0)

    def record_topup(self, credit: TopupCredit) -> None:
        """Stage the outcome of a top-up (written at commit); later lookups in this
        transaction find it."""
        self.uow.insert_at_commit(TopupCredit, row_of(credit))
        self.uow.remembered(_TOPUPS)[credit.topup_id] = credit

    def set_daily_caps(
        self, wallet: Wallet, *, amount_paise: int | None, count: int | None, change: LimitChange
    ) -> None:
        """Give a locked wallet the user's own daily caps (None: no cap) and record the
        change (inserted at commit: a payment token already used fails the commit). The
        wallet's version moves on, so news of the change supersedes older news."""
        self.uow.update(
            wallet,
            daily_amount_cap_paise=amount_paise,
            daily_count_cap=count,
            version=wallet.version + 1,
        )
        self.uow.insert_at_commit(LimitChange, row_of(change, leave_out=frozenset({"id"})))

    def set_tier(self, wallet: Wallet, tier: str) -> None:
        """Give a locked wallet the limits of KYC ``tier`` (MINIMUM or FULL); its
        version moves on, as with :meth:`set_daily_caps`."""
        self.uow.update(wallet, kyc_tier=tier, version=wallet.version + 1)

    def set_status(self, wallet: Wallet, status: str, change: WalletFreeze) -> None:
        """Freeze (FROZEN: it pays nothing, but is still paid) or unfreeze (ACTIVE) a
        locked wallet, and keep ``change`` in its history (both written at commit). The
        status is part of the allowance transactions keeps: the version moves on, as
        with :meth:`set_daily_caps`."""
        self.uow.update(
            wallet, status=status, version=wallet.version + 1, updated_at=change.created_at
        )
        self.uow.insert_at_commit(WalletFreeze, row_of(change, leave_out=frozenset({"id"})))

    async def last_freeze(self, wallet_id: str) -> WalletFreeze | None:
        """The wallet's latest freeze or unfreeze, if it ever had one."""
        return await self.session.scalar(
            select(WalletFreeze)
            .where(WalletFreeze.wallet_id == wallet_id)
            .order_by(WalletFreeze.id.desc())
            .limit(1)
        )

    async def freezes(self, wallet_id: str, *, limit: int) -> Sequence[WalletFreeze]:
        """The wallet's freezes and unfreezes, newest first."""
        return (
            await self.session.scalars(
                select(WalletFreeze)
                .where(WalletFreeze.wallet_id == wallet_id)
                .order_by(WalletFreeze.id.desc())
                .limit(limit)
            )
        ).all()

    async def payment_token_used(self, token_id: str) -> bool:
        """Whether an unfreeze was already confirmed with the payment token ``token_id``."""
        found = await self.session.scalar(
            select(WalletFreeze.id).where(WalletFreeze.payment_token_id == token_id)
        )
        return found is not None

    async def lock_tier_limits_announced(self) -> TierLimitsAnnounced:
        """Lock the one row of what ``wallet.tier_limits`` announced last (made by
        migration 0008), so that wallets processes starting together announce in turn."""
        row = await self.session.scalar(
            select(TierLimitsAnnounced)
            .where(TierLimitsAnnounced.id == TIER_LIMITS_ROW)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert row is not None, "migration 0008 makes the row"
        return row

    def announced_tier_limits(
        self, row: TierLimitsAnnounced, *, version: int, announcement: str
    ) -> None:
        """Keep ``announcement`` (a ``wallet.tier_limits`` payload, as JSON) as the last
        announced, at ``version`` (written at commit)."""
        row.version = version
        row.announcement = announcement
        row.announced_at = utcnow()

    async def has_entry(self, wallet_id: str, reference: str) -> bool:
        """Whether the wallet has an entry of the movement ``reference`` (its unique key)."""
        found = await self.session.scalar(
            select(LedgerEntry.id).where(
                LedgerEntry.wallet_id == wallet_id, LedgerEntry.reference == reference
            )
        )
        return found is not None

    async def open(self, wallet: Wallet) -> None:
        """Insert a new wallet now; it counts as locked by this transaction."""
        self.session.add(wallet)
        await self.session.flush()
        if wallet.user_id is not None:
            self.uow.remembered(_LOCKED)[wallet.user_id] = wallet
        self._hold({wallet.id: wallet})

    async def entries(
        self, wallet_id: str, *, before_id: int | None, limit: int
    ) -> Sequence[LedgerEntry]:
        """The wallet's entries, newest first, older than ``before_id`` when given."""
        query = select(LedgerEntry).where(LedgerEntry.wallet_id == wallet_id)
        if before_id is not None:
            query = query.where(LedgerEntry.id < before_id)
        return (
            await self.session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit))
        ).all()
