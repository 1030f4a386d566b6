"""Freezing a wallet (wallets/freezes.py), on the migrated wallets database: a frozen
wallet pays nothing and is still paid; its owner unfreezes it with password and PIN,
an ADMIN with a reason; every change is kept, counted and announced once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import unique_email, unique_phone
from tests.unit.conftest import metric_value, users_client
from tests.unit.signing import new_token_keys
from tijori.common.auth import (
    PaymentAuthorisation,
    PaymentTokenError,
    PaymentTokenRequiredError,
)
from tijori.common.db import UnitOfWorkFactory
from tijori.common.events import (
    TopupCaptured,
    TopupCredited,
    TransactionInitiated,
    TransferCompleted,
    TransferRejected,
    UserCreated,
    UserKycUpdated,
    WalletFrozen,
    WalletUnfrozen,
    WithdrawalRequested,
)
from tijori.notifications.messages import kyc_updated, wallet_frozen, wallet_unfrozen
from tijori.users.config import UsersSettings
from tijori.wallets import freezes, holds, service, topups
from tijori.wallets.config import WalletsSettings
from tijori.wallets.credentials import (
    PasswordChecker,
    PasswordRefusedError,
    UsersUnavailableError,
)
from tijori.wallets.freezes import UNFREEZE_PURPOSE, FrozenByAdminError
from tijori.wallets.models import OutboxMessage, Wallet, WalletFreeze

KEYS = new_token_keys()
PASSWORD = "correct horse battery"


async def _open(units: UnitOfWorkFactory, user_id: str) -> Wallet:
    user = UserCreated(
        user_id=user_id, name=user_id, email=f"{user_id}@x.co", phone="+919876543210"
    )
    async with units() as uow:
        wallet = await service.open_wallet(uow, user=user, promo_paise=10_000)
        await uow.commit()
        return wallet


async def _freeze(units: UnitOfWorkFactory, user_id: str, by: str = "USER") -> Wallet:
    async with units() as uow:
        wallet = await freezes.freeze(
            uow,
            user_id=user_id,
            by=by,  # type: ignore[arg-type]
            actor_id=user_id if by == "USER" else "admin",
            reason=None if by == "USER" else "Reported stolen phone",
        )
        await uow.commit()
        return wallet


async def _transfer(units: UnitOfWorkFactory, sender: str, receiver: str) -> object:
    async with units() as uow:
        outcome = await service.apply_transfer(
            uow,
            transfer=TransactionInitiated(
                transaction_id=str(uuid.uuid4()),
                sender_id=sender,
                receiver_id=receiver,
                amount_paise=1_000,
            ),
        )
        await uow.commit()
        return outcome


def _checker(status: int = 204, body: dict[str, object] | None = None) -> PasswordChecker:
    """A users that answers every password check with ``status`` (and records them)."""

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/users/me/password/check"
        assert request.headers["authorization"] == "Bearer access"
        if status == 204:
            assert json.loads(request.content) == {"password": PASSWORD}
        return httpx.Response(status, json=body) if body else httpx.Response(status)

    return PasswordChecker(["http://users"], timeout=1, transport=httpx.MockTransport(answer))


def _token(user_id: str, *, amount: int = 0, key: str = UNFREEZE_PURPOSE) -> str:
    return KEYS.issue_payment(
        user_id=user_id,
        amount_paise=amount,
        receiver=None,
        idempotency_key=key,
        ttl=timedelta(minutes=2),
    )


async def _unfreeze(
    units: UnitOfWorkFactory,
    user_id: str,
    token: str | None,
    checker: PasswordChecker | None = None,
) -> Wallet:
    async with units() as uow:
        wallet = await freezes.unfreeze_by_owner(
            uow,
            user_id=user_id,
            password=PASSWORD,
            authorization="Bearer access",
            payment=PaymentAuthorisation(token=token, user_id=user_id, keys=KEYS),
            checker=checker or _checker(),
        )
        await uow.commit()
        return wallet


async def _history(units: UnitOfWorkFactory) -> list[tuple[str, str, str | None]]:
    async with units() as uow:
        rows = (await uow.session.scalars(select(WalletFreeze).order_by(WalletFreeze.id))).all()
        return [(row.action, row.by, row.reason) for row in rows]


async def _events(units: UnitOfWorkFactory) -> list[str]:
    async with units() as uow:
        topics = await uow.session.scalars(select(OutboxMessage.topic).order_by(OutboxMessage.id))
        return [topic for topic in topics if topic.startswith("wallet.") and "created" not in topic]


async def test_a_frozen_wallet_pays_nothing_but_is_still_paid(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _open(wallets_units, "a")
    await _open(wallets_units, "b")
    await _freeze(wallets_units, "a")
    refused = await _transfer(wallets_units, "a", "b")
    assert isinstance(refused, TransferRejected) and refused.reason == "wallet_frozen"
    received = await _transfer(wallets_units, "b", "a")
    assert isinstance(received, TransferCompleted)
    assert received.receiver_balance_paise == 11_000

    async with wallets_units() as uow:  # a top-up is a credit: it arrives too
        topup = await topups.credit_topup(
            uow,
            topup=TopupCaptured(topup_id="t1", user_id="a", payment_id="pay_1", amount_paise=500),
            settings=WalletsSettings(),
        )
        await uow.commit()
    assert isinstance(topup, TopupCredited) and topup.balance_paise == 11_500

    await _open(wallets_units, "c")  # a withdrawal is a debit: refused
    async with wallets_units() as uow:
        await uow.session.execute(
            Wallet.__table__.update().where(Wallet.user_id == "c").values(kyc_tier="FULL")
        )
        await uow.commit()
    await _freeze(wallets_units, "c")
    async with wallets_units() as uow:
        hold = await holds.place_hold(
            uow,
            request=WithdrawalRequested(withdrawal_id="h1", user_id="c", amount_paise=100),
            hold_for=timedelta(hours=1),
        )
        await uow.commit()
    assert (hold.status, hold.reason) == ("REFUSED", "wallet_frozen")


async def test_freezing_twice_changes_once_and_each_change_is_kept_counted_and_announced(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _open(wallets_units, "a")
    before = metric_value("tijori_wallet_freezes_total", action="freeze", by="USER")
    assert (await _freeze(wallets_units, "a")).status == "FROZEN"
    assert (await _freeze(wallets_units, "a")).status == "FROZEN"
    assert metric_value("tijori_wallet_freezes_total", action="freeze", by="USER") == before + 1
    unfrozen = await _unfreeze(wallets_units, "a", _token("a"))
    assert unfrozen.status == "ACTIVE"
    assert await _history(wallets_units) == [("FREEZE", "USER", None), ("UNFREEZE", "USER", None)]
    # each with the allowance, for transactions' pre-check
    assert await _events(wallets_units) == [
        "wallet.frozen",
        "wallet.limits_changed",
        "wallet.unfrozen",
        "wallet.limits_changed",
    ]
    assert metric_value("tijori_wallet_freezes_total", action="unfreeze", by="USER") >= 1


async def test_an_unfreeze_needs_a_token_bound_to_it_once_and_the_password(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _open(wallets_units, "a")
    await _freeze(wallets_units, "a")
    with pytest.raises(PaymentTokenRequiredError):
        await _unfreeze(wallets_units, "a", None)
    for wrong in (
        _token("a", amount=100),  # a payment's token
        _token("a", key="some-payment"),
        _token("b"),  # someone else's
        "not-a-token",
    ):
        with pytest.raises(PaymentTokenError):
            await _unfreeze(wallets_units, "a", wrong)
    refused = _checker(401, {"code": "invalid_credentials", "status": 401})
    with pytest.raises(PasswordRefusedError) as wrong_password:
        await _unfreeze(wallets_units, "a", _token("a"), refused)
    assert (wrong_password.value.status, wrong_password.value.code) == (401, "invalid_credentials")
    limited = _checker(429, {"code": "too_many_attempts", "status": 429})
    with pytest.raises(PasswordRefusedError) as too_many:
        await _unfreeze(wallets_units, "a", _token("a"), limited)
    assert (too_many.value.status, too_many.value.code) == (429, "too_many_attempts")
    for down in (_checker(503), PasswordChecker(["http://127.0.0.1:9"], timeout=0.5)):
        with pytest.raises(UsersUnavailableError):
            await _unfreeze(wallets_units, "a", _token("a"), down)
    assert await _history(wallets_units) == [("FREEZE", "USER", None)]  # nothing changed

    token = _token("a")
    assert (await _unfreeze(wallets_units, "a", token)).status == "ACTIVE"
    await _freeze(wallets_units, "a")
    with pytest.raises(PaymentTokenError, match="used already"):
        await _unfreeze(wallets_units, "a", token)  # replayed
    async with wallets_units() as uow:
        wallet = await uow.session.scalar(select(Wallet).where(Wallet.user_id == "a"))
        assert wallet is not None and wallet.status == "FROZEN"


async def test_a_wallet_an_admin_froze_is_unfrozen_by_an_admin_only(
    wallets_units: UnitOfWorkFactory,
) -> None:
    await _open(wallets_units, "a")
    await _freeze(wallets_units, "a", by="ADMIN")
    with pytest.raises(FrozenByAdminError):
        await _unfreeze(wallets_units, "a", _token("a"))
    async with wallets_units() as uow:
        wallet = await freezes.unfreeze_by_admin(
            uow, user_id="a", admin_id="admin", reason="Owner called from the new phone"
        )
        await uow.commit()
    assert wallet.status == "ACTIVE"
    assert await _history(wallets_units) == [
        ("FREEZE", "ADMIN", "Reported stolen phone"),
        ("UNFREEZE", "ADMIN", "Owner called from the new phone"),
    ]


def test_the_freeze_mails_say_who_froze_it_and_how_to_unfreeze() -> None:
    common = {"wallet_id": "w", "user_id": "u", "email": "asha@x.co", "actor_id": "u"}
    mine = wallet_frozen(WalletFrozen(by="USER", **common))
    assert mine.kind == "WALLET_FROZEN" and "password and your transaction PIN" in mine.body
    assert "Money sent to you still arrives" in mine.body
    theirs = wallet_frozen(WalletFrozen(by="ADMIN", reason="Reported stolen phone", **common))
    assert "Reported stolen phone" in theirs.body and "Only Tijori's team" in theirs.body
    back = wallet_unfrozen(WalletUnfrozen(by="USER", **common))
    assert back.subject == "Your Tijori wallet is unfrozen" and "not you" in back.body


def test_the_kyc_mails_say_the_outcome_and_why() -> None:
    full = kyc_updated(
        UserKycUpdated(user_id="u", kyc="FULL", pan_masked="XXXXXX234F", name="Asha")
    )
    assert full.kind == "KYC_VERIFIED" and "XXXXXX234F" in full.body
    rejected = kyc_updated(UserKycUpdated(user_id="u", kyc="REJECTED", reason="pan_not_found"))
    assert rejected.kind == "KYC_REJECTED" and "the PAN was not found" in rejected.body


async def test_users_checks_the_caller_s_password_and_limits_wrong_ones(
    sqlite_url: Callable[[str], str], tmp_path: Path
) -> None:
    settings = UsersSettings(data_dir=tmp_path, TIJORI_USERS_DATABASE_URL=sqlite_url("users"))
    async with users_client(settings) as users:
        body = {"name": "Asha", "email": unique_email(), "phone": unique_phone()}
        assert (
            await users.post("/api/users", json=body | {"password": PASSWORD})
        ).status_code == 201
        login = await users.post(
            "/api/auth/token", data={"username": body["email"], "password": PASSWORD}
        )
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        check = "/api/users/me/password/check"
        assert (
            await users.post(check, json={"password": PASSWORD}, headers=auth)
        ).status_code == 204
        assert (await users.post(check, json={"password": PASSWORD})).status_code == 401
        assert (await users.post(check, json={}, headers=auth)).status_code == 422
        for _ in range(settings.login_max_failures):
            wrong = await users.post(check, json={"password": "not it"}, headers=auth)
            assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")
        limited = await users.post(check, json={"password": PASSWORD}, headers=auth)
        assert (limited.status_code, limited.json()["code"]) == (429, "too_many_attempts")
        assert limited.headers["Retry-After"]
