"""Freezing a wallet on the running stack (issue 20): a frozen wallet pays nothing and
still receives; its owner unfreezes it with password and PIN, an ADMIN freezes and
unfreezes any wallet with a reason; each change is e-mailed. And the KYC outcome
e-mail."""

from __future__ import annotations

import uuid

import httpx

from tests.integration.conftest import PIN, Person, problem, sign_up, wallet_of
from tests.integration.payments import upgrade_to_full
from tests.integration.stack import Stack
from tests.integration.transfers import send, settled, two_people, unfreeze, unfreeze_token


async def _mail_subjects(stack: Stack, person: Person, count: int) -> list[str]:
    mails = await stack.wait_for_mails(person.email, count)
    return [str(mail["Subject"]) for mail in mails]


async def test_a_frozen_wallet_refuses_payments_out_and_still_receives(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    asha, ravi = await two_people(gateway)
    frozen = await gateway.post("/api/wallets/me/freeze", headers=asha.auth)
    assert frozen.status_code == 200, frozen.text
    assert (frozen.json()["status"], frozen.json()["frozen_by"]) == ("FROZEN", "USER")
    again = await gateway.post("/api/wallets/me/freeze", headers=asha.auth)
    assert again.json()["status"] == "FROZEN"  # as it was: no second change, no e-mail

    out = await send(gateway, asha, ravi.phone, "10.00")
    if out.status_code == 202:  # sent before transactions heard of the freeze
        failed = await settled(gateway, asha, out.json()["id"])
        assert (failed["status"], failed["reason"]) == ("FAILED", "wallet_frozen")
    else:  # the pre-check's refusal (test_limits_precheck.py): nothing made, no e-mail
        problem(out, 423, "wallet_frozen")
    incoming = await send(gateway, ravi, asha.phone, "25.00")
    assert (await settled(gateway, ravi, incoming.json()["id"]))["status"] == "SUCCESS"
    assert (await wallet_of(gateway, asha))["balance"] == "125.00"

    key = str(uuid.uuid4())
    paid = await gateway.post(
        "/api/auth/payment-token",
        json={"pin": PIN, "amount": "5.00", "idempotency_key": key},
        headers=asha.auth,
    )
    withdrawal = {
        "amount": "5.00",
        "account_number": "123456789012",
        "ifsc": "HDFC0001234",
        "account_name": "Asha Rao",
    }
    refused = await gateway.post(
        "/api/payments/withdrawals",
        json=withdrawal,
        headers=asha.auth
        | {"Idempotency-Key": key, "X-Payment-Token": paid.json()["payment_token"]},
    )
    problem(refused, 423, "wallet_frozen")
    # welcome, frozen, received, and failed if the transfer was accepted
    subjects = await _mail_subjects(stack, asha, 4 if out.status_code == 202 else 3)
    assert subjects.count("Your Tijori wallet is frozen") == 1, subjects


async def test_unfreezing_needs_the_password_and_a_pin_token_used_once(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    asha = await sign_up(gateway, name="Asha Rao", pin=PIN)
    await wallet_of(gateway, asha)
    assert (await gateway.post("/api/wallets/me/freeze", headers=asha.auth)).status_code == 200

    problem(await unfreeze(gateway, asha, None, asha.password), 403, "payment_token_required")
    payment = await unfreeze_token(gateway, asha, amount="1.00")
    problem(await unfreeze(gateway, asha, payment, asha.password), 403, "payment_token_invalid")
    token = await unfreeze_token(gateway, asha)
    problem(await unfreeze(gateway, asha, token, None), 422, "validation_error")
    problem(await unfreeze(gateway, asha, token, "not my password"), 401, "invalid_credentials")
    assert (await wallet_of(gateway, asha))["status"] == "FROZEN"  # nothing changed

    unfrozen = await unfreeze(gateway, asha, token, asha.password)
    assert unfrozen.status_code == 200, unfrozen.text
    assert (unfrozen.json()["status"], unfrozen.json()["frozen_by"]) == ("ACTIVE", None)
    await gateway.post("/api/wallets/me/freeze", headers=asha.auth)
    problem(await unfreeze(gateway, asha, token, asha.password), 403, "payment_token_invalid")
    assert (await wallet_of(gateway, asha))["status"] == "FROZEN"
    subjects = await _mail_subjects(stack, asha, 4)
    assert subjects.count("Your Tijori wallet is frozen") == 2, subjects
    assert subjects.count("Your Tijori wallet is unfrozen") == 1, subjects


async def test_an_admin_freezes_any_wallet_with_a_reason_kept_and_only_an_admin_unfreezes_it(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    admin, ravi = await two_people(gateway, ("Admin Asha", "Ravi Kumar"))
    reason = {"reason": "Reported stolen phone (ticket TJ-2026-000042)"}
    path = f"/api/admin/wallets/{ravi.id}"
    problem(await gateway.post(f"{path}/freeze", json=reason, headers=ravi.auth), 403, "forbidden")
    assert stack.tijori("grant-admin", admin.email).returncode == 0
    login = await gateway.post(
        "/api/auth/token", data={"username": admin.email, "password": admin.password}
    )
    admin.token = login.json()["access_token"]

    problem(
        await gateway.post(f"{path}/freeze", json={}, headers=admin.auth), 422, "validation_error"
    )
    frozen = await gateway.post(f"{path}/freeze", json=reason, headers=admin.auth)
    assert frozen.status_code == 200, frozen.text
    assert (frozen.json()["status"], frozen.json()["frozen_by"]) == ("FROZEN", "ADMIN")
    token = await unfreeze_token(gateway, ravi)
    problem(await unfreeze(gateway, ravi, token, ravi.password), 403, "frozen_by_admin")
    ghost = "00000000-0000-0000-0000-00000000beef"
    problem(
        await gateway.post(f"/api/admin/wallets/{ghost}/freeze", json=reason, headers=admin.auth),
        404,
        "wallet_not_found",
    )

    lifted = await gateway.post(
        f"{path}/unfreeze", json={"reason": "Owner called from the new phone"}, headers=admin.auth
    )
    assert lifted.status_code == 200 and lifted.json()["status"] == "ACTIVE", lifted.text
    history = await gateway.get(f"{path}/freezes", headers=admin.auth)
    assert history.status_code == 200, history.text
    assert [
        (change["action"], change["by"], change["actor_id"], change["reason"])
        for change in history.json()["freezes"]
    ] == [
        ("UNFREEZE", "ADMIN", admin.id, "Owner called from the new phone"),
        ("FREEZE", "ADMIN", admin.id, reason["reason"]),
    ]
    problem(await gateway.get(f"{path}/freezes", headers=ravi.auth), 403, "forbidden")
    mails = await stack.wait_for_mails(ravi.email, 3)
    bodies = [mail.get_payload(decode=True).decode() for mail in mails]  # type: ignore[union-attr]
    assert any(reason["reason"] in body for body in bodies), bodies


async def test_the_kyc_outcome_is_e_mailed(gateway: httpx.AsyncClient, stack: Stack) -> None:
    asha = await sign_up(gateway, name="Asha Rao")
    await wallet_of(gateway, asha)
    await upgrade_to_full(gateway, asha)
    mails = await stack.wait_for_mails(asha.email, 2)
    assert "Your Tijori wallet is now a full-KYC wallet" in [str(mail["Subject"]) for mail in mails]
