"""Accepting transfers in-process, as the transactions API does: Asha pays Ravi, each
transfer with the payment token users would sign after her PIN."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.unit.signing import new_token_keys
from tijori.common.auth import PaymentAuthorisation, Principal
from tijori.common.cache import MemoryCache
from tijori.common.db import UnitOfWorkFactory
from tijori.common.events import WalletCreated
from tijori.common.phone import normalize_handle
from tijori.transactions import acceptance
from tijori.transactions.acceptor import TransferAcceptor
from tijori.transactions.config import TransactionsSettings
from tijori.transactions.schemas import TransferRequest

# users' keys: what signs the payment tokens these transfers carry
KEYS = new_token_keys()


def wallet_created(user_id: str, balance: int = 10_000, version: int = 1) -> WalletCreated:
    """The news of ``user_id``'s wallet (the directory learns its parties from it)."""
    return WalletCreated(
        wallet_id=f"w-{user_id}",
        user_id=user_id,
        name=user_id.title(),
        email=f"{user_id}@x.co",
        phone=f"+9198765{abs(hash(user_id)) % 100000:05d}",
        balance_paise=balance,
        version=version,
    )


def paid(request: TransferRequest, key: str, *, user_id: str = "asha") -> PaymentAuthorisation:
    """A payment token for exactly this transfer, sent by ``user_id``."""
    token = KEYS.issue_payment(
        user_id=user_id,
        amount_paise=request.amount,
        receiver=normalize_handle(request.receiver),
        idempotency_key=key,
        ttl=timedelta(minutes=2),
    )
    return PaymentAuthorisation(token=token, user_id=user_id, keys=KEYS)


async def check(
    units: UnitOfWorkFactory,
    cache: MemoryCache,
    amount: str,
    *,
    key: str | None = None,
    note: str | None = None,
    receiver: str = "RAVI@x.co",
    payment: PaymentAuthorisation | None = None,
) -> acceptance.TransferCandidate | acceptance.Accepted:
    """Asha's transfer through the checks alone, with its own payment token unless
    ``payment`` is given."""
    request = TransferRequest(receiver=receiver, amount=amount, note=note)
    key = key or str(uuid.uuid4())
    async with units() as uow:
        return await acceptance.check_transfer(
            uow,
            cache=cache,
            settings=TransactionsSettings(),
            sender=Principal(user_id="asha", authority="USER"),
            request=request,
            idempotency_key=key,
            payment=payment or paid(request, key),
        )


async def candidate(
    units: UnitOfWorkFactory, cache: MemoryCache, amount: str, *, key: str | None = None
) -> acceptance.TransferCandidate:
    """A checked transfer, not yet decided."""
    checked = await check(units, cache, amount, key=key)
    assert isinstance(checked, acceptance.TransferCandidate)
    return checked


async def accept(
    units: UnitOfWorkFactory,
    cache: MemoryCache,
    amount: str,
    *,
    key: str | None = None,
    note: str | None = None,
    payment: PaymentAuthorisation | None = None,
) -> acceptance.Accepted:
    """As the API does: check alone, then decide and store with the acceptor."""
    checked = await check(units, cache, amount, key=key, note=note, payment=payment)
    if isinstance(checked, acceptance.Accepted):
        return checked
    return await TransferAcceptor(units).accept(checked)
