"""Who can be paid: the recipient directory (Redis, else this service's accounts)."""

from __future__ import annotations

import logging

from pydantic import BaseModel

from tijori.common.cache import Cache, CacheUnavailableError
from tijori.common.db import UnitOfWork
from tijori.common.errors import NotFoundError
from tijori.common.events import PromotionCredited, WalletCreated
from tijori.common.phone import normalize_email
from tijori.transactions.models import Account
from tijori.transactions.repository import TransactionRepository

log = logging.getLogger(__name__)


class Recipient(BaseModel):
    """Who can be paid at a phone or e-mail: what the directory cache holds."""

    user_id: str
    name: str
    email: str
    phone: str


def directory_key(handle: str) -> str:
    """Where the recipient reachable at ``handle`` is cached."""
    return f"tijori:directory:{handle}"


async def resolve_recipient(
    uow: UnitOfWork, cache: Cache, handle: str, *, ttl_seconds: int
) -> Recipient:
    """The recipient at ``handle``: from the Redis directory, else this service's table."""
    try:
        cached = await cache.get(directory_key(handle))
    except CacheUnavailableError:
        cached = None
    if cached is not None:
        return Recipient.model_validate_json(cached)
    repository = TransactionRepository(uow)
    is_email = "@" in handle
    account = await repository.account_by_handle(
        email=handle if is_email else None, phone=None if is_email else handle
    )
    if account is None:
        raise NotFoundError("no Tijori wallet at this phone or e-mail", code="receiver_not_found")
    recipient = Recipient(
        user_id=account.user_id, name=account.name, email=account.email, phone=account.phone
    )
    await _cache_recipient(cache, recipient, ttl_seconds=ttl_seconds)
    return recipient


async def _cache_recipient(cache: Cache, recipient: Recipient, *, ttl_seconds: int) -> None:
    body = recipient.model_dump_json().encode()
    try:
        for handle in (recipient.email, recipient.phone):
            await cache.set(directory_key(handle), body, ttl_seconds=ttl_seconds)
    except CacheUnavailableError:
        log.warning("directory cache unavailable; %s not cached", recipient.user_id)


async def remember_wallet(
    uow: UnitOfWork,
    cache: Cache,
    wallet: WalletCreated | PromotionCredited,
    *,
    ttl_seconds: int,
) -> None:
    """Learn of a new wallet: a recipient in the directory, with its opening balance (or
    the balance after its promotion, whichever event comes first: the newer version wins).
    Its e-mail is kept in the form receivers are looked up by (:func:`normalize_email`),
    which the table compares byte for byte."""
    repository = TransactionRepository(uow)
    email = normalize_email(wallet.email)
    account = (await repository.lock_accounts([wallet.user_id])).get(wallet.user_id)
    if account is None:
        repository.add(
            Account(
                user_id=wallet.user_id,
                wallet_id=wallet.wallet_id,
                name=wallet.name,
                email=email,
                phone=wallet.phone,
                balance_paise=wallet.balance_paise,
                version=wallet.version,
                # no allowance known until wallets tells one; set now, not at the insert,
                # as an outcome in the same batch may learn on this new row
                limits_version=None,
                p2p_sent_paise=0,
                day_paid_paise=0,
                day_payments=0,
            )
        )
    else:
        repository.learn(account, version=wallet.version, balance_paise=wallet.balance_paise)
    recipient = Recipient(user_id=wallet.user_id, name=wallet.name, email=email, phone=wallet.phone)
    await _cache_recipient(cache, recipient, ttl_seconds=ttl_seconds)
