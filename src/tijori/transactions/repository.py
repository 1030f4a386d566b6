"""All SQL of the transactions service."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select

from tijori.common.db import UnitOfWork, keyed, row_of
from tijori.common.events import Allowance, TransferCompleted, TransferRejected, WalletTierLimits
from tijori.transactions.models import Account, IdempotencyKey, TierLimit, Transaction

# rows a settling batch locks; refreshed from the database when locked
_LOCK_TRANSACTIONS = keyed(
    select(Transaction).with_for_update().execution_options(populate_existing=True),
    Transaction.id,
)
_LOCK_ACCOUNTS = keyed(
    select(Account).with_for_update().execution_options(populate_existing=True), Account.user_id
)


@dataclass(frozen=True)
class SenderState:
    """What deciding a transfer needs to know of its sender."""

    name: str
    balance_paise: int
    # paise in the sender's PENDING transactions, not yet taken from the balance, and
    # how many they are (not yet in the allowance's counters either)
    pending_paise: int
    pending_count: int
    # the sender's limits as wallets last told (None: not known yet)
    allowance: Allowance | None
    # the monthly limit wallets announced for the allowance's tier (None: none known)
    tier_monthly_p2p_paise: int | None = None


# a new transaction's row leaves its seq to the database
_SEQ = frozenset({"seq"})

# the columns of an account's allowance, named as the fields of ``Allowance``
_ALLOWANCE = (
    Account.monthly_p2p_paise,
    Account.p2p_month,
    Account.p2p_sent_paise,
    Account.daily_amount_cap_paise,
    Account.daily_count_cap,
    Account.pay_day,
    Account.day_paid_paise,
    Account.day_payments,
    Account.tier,
    Account.frozen,
)
assert {column.key for column in _ALLOWANCE} == set(Allowance.model_fields)
# what learning from wallets writes: every account a batch learns of is staged with all
# of them (new or as they were), so the batch's accounts are still one UPDATE
_LEARNED = ("balance_paise", "version", "limits_version", *(c.key for c in _ALLOWANCE))

_PENDING = (Transaction.sender_id == Account.user_id, Transaction.status == "PENDING")
# built once (the IN list expands per call): building a statement costs more than running it
# the tier's announced limit comes in the same read: a primary-key join
_SENDER_STATES = (
    select(
        Account.user_id,
        Account.name,
        Account.balance_paise,
        select(func.coalesce(func.sum(Transaction.amount_paise), 0))
        .where(*_PENDING)
        .scalar_subquery(),
        select(func.count()).where(*_PENDING).scalar_subquery(),
        TierLimit.monthly_p2p_paise,
        Account.limits_version,
        *_ALLOWANCE,
    )
    .select_from(Account)
    .outerjoin(TierLimit, TierLimit.tier == Account.tier)
    .where(Account.user_id.in_(bindparam("user_ids", expanding=True)))
)


# the stored keys among those some users sent (built once, as _SENDER_STATES)
_IDEMPOTENCY_KEYS = select(IdempotencyKey).where(
    IdempotencyKey.user_id.in_(bindparam("users", expanding=True)),
    IdempotencyKey.key.in_(bindparam("keys", expanding=True)),
)


# what the unit of work remembers for this repository, per database transaction: the
# rows it has locked (None: no such row), so that a batch of outcomes can lock everything
# at once (:meth:`TransactionRepository.prefetch_outcomes`) and each outcome then finds
# its rows without another query
_LOCKED_TRANSACTIONS = "transactions.locked"
_LOCKED_ACCOUNTS = "accounts.locked"


class TransactionRepository:
    """Reads and writes transactions, idempotency keys and known accounts in one unit of
    work.

    Transactions and accounts it locks are held by the unit of work: they change only
    through this repository's methods (:meth:`decide`, :meth:`mark_redriven`,
    :meth:`learn`), written at commit with the batch's others.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    async def get(self, transaction_id: str) -> Transaction | None:
        """The transaction with the public ``transaction_id``."""
        return await self.session.scalar(
            select(Transaction).where(Transaction.id == transaction_id)
        )

    async def get_idempotency_key(self, user_id: str, key: str) -> IdempotencyKey | None:
        """The stored key ``key`` of ``user_id``."""
        return await self.session.get(IdempotencyKey, (user_id, key))

    async def sender_states(self, user_ids: Iterable[str]) -> dict[str, SenderState]:
        """Each sender's name, known balance, pending debits and known allowance, in one
        round trip; those this service knows no wallet of are left out."""
        rows = await self.session.execute(_SENDER_STATES, {"user_ids": sorted(set(user_ids))})
        names = [column.key for column in _ALLOWANCE]
        states: dict[str, SenderState] = {}
        for user_id, name, balance, pending, count, tier_limit, limits_version, *allowance in rows:
            states[user_id] = SenderState(
                name=name,
                balance_paise=balance,
                pending_paise=int(pending),
                pending_count=int(count),
                # read back from what was learned (validated then): not validated again
                allowance=None
                if limits_version is None
                else Allowance.model_construct(**dict(zip(names, allowance, strict=True))),
                tier_monthly_p2p_paise=tier_limit,
            )
        return states

    async def idempotency_keys(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], IdempotencyKey]:
        """The stored ones of these (user id, key) pairs."""
        wanted = set(keys)
        if not wanted:
            return {}
        found = await self.session.scalars(
            _IDEMPOTENCY_KEYS,
            {"users": sorted({user for user, _ in wanted}), "keys": sorted({k for _, k in wanted})},
        )
        return {(row.user_id, row.key): row for row in found if (row.user_id, row.key) in wanted}

    async def history(
        self,
        user_id: str,
        *,
        before_seq: int | None,
        status: str | None,
        direction: str | None,
        limit: int,
    ) -> list[Transaction]:
        """The user's sent and received transactions, newest first."""
        sides = {"SENT": Transaction.sender_id, "RECEIVED": Transaction.receiver_id}
        pages: list[Sequence[Transaction]] = []
        for side, column in sides.items():
            if direction is not None and direction != side:
                continue
            query = select(Transaction).where(column == user_id)
            if status is not None:
                query = query.where(Transaction.status == status)
            if before_seq is not None:
                query = query.where(Transaction.seq < before_seq)
            pages.append(
                (
                    await self.session.scalars(query.order_by(Transaction.seq.desc()).limit(limit))
                ).all()
            )
        merged = heapq.merge(*pages, key=lambda txn: -txn.seq)
        unique: dict[int, Transaction] = {}
        for txn in merged:
            unique.setdefault(txn.seq, txn)
            if len(unique) == limit:
                break
        return list(unique.values())

    async def stale_pending(self, *, older_than: datetime, limit: int) -> Sequence[Transaction]:
        """PENDING transactions last driven before ``older_than``, locked for re-driving
        (:meth:`mark_redriven`)."""
        stale = (
            await self.session.scalars(
                select(Transaction)
                .where(Transaction.status == "PENDING", Transaction.updated_at < older_than)
                .order_by(Transaction.updated_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            )
        ).all()
        self.uow.hold(stale)
        return stale

    async def account_by_handle(
        self, *, email: str | None = None, phone: str | None = None
    ) -> Account | None:
        """The account reachable at this e-mail or phone."""
        column, value = (Account.email, email) if email is not None else (Account.phone, phone)
        return await self.session.scalar(select(Account).where(column == value))

    async def names(self, user_ids: Iterable[str]) -> dict[str, str]:
        """Account holders' names by user id."""
        ids = set(user_ids)
        if not ids:
            return {}
        rows = await self.session.execute(
            select(Account.user_id, Account.name).where(Account.user_id.in_(ids))
        )
        return {user_id: name for user_id, name in rows}

    async def lock_transactions(self, transaction_ids: Iterable[str]) -> dict[str, Transaction]:
        """Lock these transactions ``FOR UPDATE`` in one statement; by id, those found."""
        locked: dict[str, Transaction] = await self.uow.read_once(
            _LOCKED_TRANSACTIONS, _LOCK_TRANSACTIONS, transaction_ids
        )
        self.uow.hold(locked.values())
        return locked

    async def lock_accounts(self, user_ids: Iterable[str]) -> dict[str, Account]:
        """Lock these accounts ``FOR UPDATE`` in one statement, in user id order; by user
        id, those found."""
        locked: dict[str, Account] = await self.uow.read_once(
            _LOCKED_ACCOUNTS, _LOCK_ACCOUNTS, user_ids
        )
        self.uow.hold(locked.values())
        return locked

    def decide(
        self,
        transaction: Transaction,
        status: str,
        reason: str | None,
        limit: str | None = None,
    ) -> None:
        """Settle a locked transaction (written at commit, with the batch's others: every
        one with the same columns, so a batch's are one statement)."""
        self.uow.update(transaction, status=status, reason=reason, limit_name=limit)

    def mark_redriven(self, transaction: Transaction) -> None:
        """Count one more re-drive of a locked PENDING transaction; it is stale again only
        a whole timeout from now."""
        self.uow.update(transaction, redrives=transaction.redrives + 1)

    def learn(
        self,
        account: Account | None,
        *,
        version: int | None,
        balance_paise: int | None = None,
        allowance: Allowance | None = None,
    ) -> None:
        """Take a wallet's balance and allowance at ``version`` as this account's, each
        if it is newer than the one known (written at commit, with the batch's others).

        The two have versions of their own: a balance learned as a receiver's says
        nothing of the allowance (receiving changes none of it), so an allowance that
        arrives after it, of an older version, is still news."""
        if account is None or version is None:
            return
        learned: dict[str, Any] = {}
        if balance_paise is not None and version > account.version:
            learned |= {"balance_paise": balance_paise, "version": version}
        if allowance is not None and (
            account.limits_version is None or version > account.limits_version
        ):
            learned |= allowance.model_dump() | {"limits_version": version}
        if learned:
            known = {name: getattr(account, name) for name in _LEARNED}
            self.uow.update(account, **(known | learned))

    async def prefetch_outcomes(
        self,
        outcomes: Sequence[TransferCompleted | TransferRejected],
        *,
        accounts: Iterable[str] = (),
    ) -> None:
        """Lock the transactions and accounts of these outcomes, and the ``accounts`` of
        other events of the batch: two statements for all (one without outcomes)."""
        if outcomes:
            await self.lock_transactions(outcome.transaction_id for outcome in outcomes)
        await self.lock_accounts(
            [user for outcome in outcomes for user in (outcome.sender_id, outcome.receiver_id)]
            + list(accounts)
        )

    async def learn_tier_limits(self, announced: WalletTierLimits) -> None:
        """Take each tier's monthly limit of ``announced`` as the tier's, if the
        announcement is newer than the one known (written at commit)."""
        known = {
            row.tier: row for row in await self.session.scalars(select(TierLimit).with_for_update())
        }
        for tier, paise in announced.monthly_p2p_paise.items():
            row = known.get(tier)
            if row is None:
                self.session.add(
                    TierLimit(tier=tier, monthly_p2p_paise=paise, version=announced.version)
                )
            elif announced.version > row.version:
                row.monthly_p2p_paise, row.version = paise, announced.version

    def add(self, account: Account) -> None:
        """Stage a new account; it counts as locked by this transaction."""
        self.uow.remembered(_LOCKED_ACCOUNTS)[account.user_id] = account
        self.session.add(account)

    async def insert_transactions(self, transactions: Sequence[Transaction]) -> None:
        """Write new transactions in one statement, now; the session does not track them
        (they are answers to requests, not changed in this transaction)."""
        rows = [row_of(transaction, leave_out=_SEQ) for transaction in transactions]
        await self.uow.insert_now(Transaction, rows)

    async def insert_idempotency_keys(self, keys: Sequence[dict[str, Any]]) -> None:
        """Store Idempotency-Keys, now: one another process took meanwhile raises
        ``IntegrityError`` here."""
        await self.uow.insert_now(IdempotencyKey, keys)
