"""HTTP routes of the payments service: top-ups, the gateway's webhook, withdrawals."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.responses import RedirectResponse

from tijori.common.app import UnitOfWorkDep
from tijori.common.auth import PAYMENT_PROBLEMS, CurrentPrincipal, PaymentTokenDep
from tijori.common.body import StrictJsonRoute
from tijori.common.errors import NotFoundError, ProblemError
from tijori.common.idempotency import idempotency_key_header
from tijori.common.openapi import problems
from tijori.common.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from tijori.payments import topups, webhooks, withdrawals
from tijori.payments.desk import PaymentsDesk
from tijori.payments.models import Topup, Withdrawal
from tijori.payments.razorpay import (
    GatewayRefusedError,
    GatewayUnavailableError,
    checkout_signature_valid,
    webhook_signature_valid,
)
from tijori.payments.repository import PaymentsRepository
from tijori.payments.schemas import (
    BankAccountRead,
    TopupRead,
    TopupRequest,
    WithdrawalRead,
    WithdrawalRequest,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/payments", tags=["payments"], route_class=StrictJsonRoute)

# a gateway event is a few kilobytes; anything far larger is not one
MAX_WEBHOOK_BYTES = 256 * 1024


async def get_desk(request: Request) -> PaymentsDesk:
    """The process's payments desk, built at start-up."""
    desk: PaymentsDesk = request.app.state.payments_desk
    return desk


DeskDep = Annotated[PaymentsDesk, Depends(get_desk)]


class PayloadTooLargeError(ProblemError):
    """A body far larger than any the route takes."""

    status, code = 413, "payload_too_large"


def present_topup(topup: Topup, desk: PaymentsDesk) -> TopupRead:
    """A top-up as its owner sees it, with where to pay while it waits for payment."""
    read = TopupRead.model_validate(topup)
    if topup.status == "CREATED":
        read.checkout_url = desk.checkout_url(topup.order_id, topup.id)
    return read


def present_withdrawal(withdrawal: Withdrawal) -> WithdrawalRead:
    """A withdrawal as its owner sees it, the account number masked."""
    return WithdrawalRead(
        id=withdrawal.id,
        amount=withdrawal.amount_paise,
        status=withdrawal.status,
        reason=withdrawal.reason,
        limit=withdrawal.limit_name,
        account=BankAccountRead(
            name=withdrawal.account_name,
            ifsc=withdrawal.ifsc,
            account_last4=withdrawal.account_number[-4:],
        ),
        payout_id=withdrawal.payout_id,
        created_at=withdrawal.created_at,
        updated_at=withdrawal.updated_at,
    )


@router.post(
    "/topups",
    status_code=status.HTTP_201_CREATED,
    response_model=TopupRead,
    summary="Add money",
    responses=problems(
        {
            422: ["validation_error", "invalid_amount", "limit_exceeded"],
            503: ["gateway_unavailable"],
        }
    ),
)
async def add_money(body: TopupRequest, principal: CurrentPrincipal, desk: DeskDep) -> TopupRead:
    """Create an order at the payment gateway: send the user to `checkout_url` to pay.
    The wallet is credited once the gateway confirms the payment."""
    topup = await topups.start_topup(desk, user_id=principal.user_id, amount_paise=body.amount)
    return present_topup(topup, desk)


@router.get(
    "/topups/{topup_id}",
    response_model=TopupRead,
    summary="One top-up",
    responses=problems({404: ["topup_not_found"]}),
)
async def read_topup(
    topup_id: str, principal: CurrentPrincipal, uow: UnitOfWorkDep, desk: DeskDep
) -> TopupRead:
    """A top-up of the caller's; 404 for anyone else's."""
    topup = await PaymentsRepository(uow).topup(topup_id) if len(topup_id) <= 36 else None
    if topup is None or topup.user_id != principal.user_id:
        raise NotFoundError("no such top-up", code="topup_not_found")
    return present_topup(topup, desk)


@router.get(
    "/topups",
    response_model=Page[TopupRead],
    summary="My top-ups",
    responses=problems({422: ["validation_error", "invalid_cursor"]}),
)
async def list_topups(
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    desk: DeskDep,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[TopupRead]:
    """The caller's top-ups, newest first."""
    rows = await PaymentsRepository(uow).topups(
        principal.user_id, before_seq=decode_cursor(cursor), limit=limit + 1
    )
    page = rows[:limit]
    return Page(
        items=[present_topup(topup, desk) for topup in page],
        next_cursor=encode_cursor(page[-1].seq) if len(rows) > limit else None,
    )


_RETURN: dict[str, Any] = {
    "status_code": status.HTTP_303_SEE_OTHER,
    "response_class": RedirectResponse,
    "summary": "Back from the gateway's checkout",
    "responses": {303: {"description": "to the top-up's screen in the web client"}},
}


# Razorpay's checkout posts a form; the sandbox's redirects with a query (docs/sandbox.md)
@router.get("/topups/{topup_id}/return", operation_id="checkout_return_by_query", **_RETURN)
@router.post("/topups/{topup_id}/return", operation_id="checkout_return_by_form", **_RETURN)
async def checkout_return(topup_id: str, request: Request, desk: DeskDep) -> RedirectResponse:
    """Where the gateway's checkout sends the browser back: the signature of
    `order_id|payment_id` is checked against the order stored for this top-up (never the
    one the browser sent), the payment confirmed with the gateway, and the user sent on to
    the top-up's screen."""
    fields = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        fields.update({key: value for key, value in form.items() if isinstance(value, str)})
    payment_id = fields.get("razorpay_payment_id", "")
    signature = fields.get("razorpay_signature", "")
    result = "pending"
    async with desk.units() as uow:
        topup = await PaymentsRepository(uow).topup(topup_id) if len(topup_id) <= 36 else None
    if topup is None:
        return RedirectResponse(desk.web_url("home"), status_code=303)
    if payment_id and signature:
        valid = checkout_signature_valid(
            order_id=topup.order_id,
            payment_id=payment_id,
            signature=signature,
            key_secret=desk.settings.psp_key_secret.get_secret_value(),
        )
        result = "paid" if valid else "invalid_signature"
        if valid:
            await _confirm_payment(desk, topup.id, payment_id)
    elif fields.get("error[code]"):
        result = "failed"
    return RedirectResponse(desk.web_url(f"topups/{topup.id}?result={result}"), status_code=303)


async def _confirm_payment(desk: PaymentsDesk, topup_id: str, payment_id: str) -> None:
    """Ask the gateway for the payment the checkout named and capture the top-up if it
    is captured; the webhook or the check loop does it otherwise."""
    try:
        payment = await desk.gateway.fetch_payment(payment_id)
    except (GatewayUnavailableError, GatewayRefusedError) as error:
        log.warning("could not confirm payment %s: %s", payment_id, error)
        return
    if payment.status not in topups.TAKEN or payment.order_id is None:
        return
    async with desk.units() as uow:
        topup = await PaymentsRepository(uow).topup(topup_id, lock=True)
        if topup is not None:
            topups.capture(
                uow,
                topup,
                payment_id=payment.id,
                amount_paise=payment.amount_paise,
                order_id=payment.order_id,
            )
            await uow.commit()


@router.post(
    "/webhooks/razorpay",
    summary="The gateway's webhook",
    responses=problems({400: ["invalid_signature", "invalid_webhook"], 413: ["payload_too_large"]}),
)
async def razorpay_webhook(
    request: Request,
    uow: UnitOfWorkDep,
    desk: DeskDep,
    signature: Annotated[str | None, Header(alias="X-Razorpay-Signature")] = None,
    event_id: Annotated[str | None, Header(alias="X-Razorpay-Event-Id")] = None,
) -> dict[str, str]:
    """A gateway event, signed with the webhook secret over the raw body; each event id
    is applied once (a repeat answers 200 and changes nothing)."""
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLargeError("a webhook body is at most 256 KiB")
    secret = desk.settings.psp_webhook_secret.get_secret_value()
    if not webhook_signature_valid(body=body, signature=signature, webhook_secret=secret):
        webhooks.count("unsigned", "invalid_signature")
        raise webhooks.InvalidSignatureError("the signature does not match the body")
    event, payload = webhooks.parse(body)
    if not event_id or len(event_id) > 64 or not event_id.isprintable():
        raise webhooks.InvalidWebhookError("the webhook has no valid X-Razorpay-Event-Id")
    if not await PaymentsRepository(uow).first_delivery(event_id, event[:40]):
        webhooks.count(event, "duplicate")
        return {"status": "duplicate"}
    result = await webhooks.apply(uow, event_id=event_id, event=event, payload=payload)
    await uow.commit()
    webhooks.count(event, result)
    log.info("webhook %s (%s): %s", event_id, event, result)
    return {"status": result}


idempotency_key = idempotency_key_header(
    "Required (400 without it): any string up to 255 characters, the one the payment "
    "token was asked for; the same key and body give the same withdrawal, the same key "
    "with another body a 409."
)


@router.post(
    "/withdrawals",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WithdrawalRead,
    summary="Withdraw to a bank account",
    responses=problems(
        {
            **PAYMENT_PROBLEMS,
            409: ["idempotency_key_reused"],
            422: [
                "validation_error",
                "invalid_amount",
                "invalid_bank_account",
                "invalid_idempotency_key",
                "insufficient_funds",
                "limit_exceeded",
                "kyc_required",
            ],
            423: ["wallet_frozen"],
        }
    ),
)
async def withdraw(
    body: WithdrawalRequest,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    desk: DeskDep,
    key: Annotated[str | None, Depends(idempotency_key)],
    payment: PaymentTokenDep,
) -> WithdrawalRead:
    """Withdraw to a bank account: the amount is held in the wallet at once, then paid
    out by the gateway; REQUESTED until then. Only a full-KYC wallet may withdraw, and
    more than is available is refused at once (422 ``kyc_required``,
    ``insufficient_funds``), as is one from a frozen wallet (423 ``wallet_frozen``); it
    fails later (and the hold is released) if the hold finds
    otherwise after all or the payout fails."""
    requested = await withdrawals.request_withdrawal(
        desk,
        principal=principal,
        body=body,
        idempotency_key=key,
        payment=payment,
        authorization=request.headers.get("authorization"),
    )
    if requested.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return present_withdrawal(requested.withdrawal)


@router.get(
    "/withdrawals/{withdrawal_id}",
    response_model=WithdrawalRead,
    summary="One withdrawal",
    responses=problems({404: ["withdrawal_not_found"]}),
)
async def read_withdrawal(
    withdrawal_id: str, principal: CurrentPrincipal, uow: UnitOfWorkDep
) -> WithdrawalRead:
    """A withdrawal of the caller's; 404 for anyone else's."""
    repository = PaymentsRepository(uow)
    withdrawal = await repository.withdrawal(withdrawal_id) if len(withdrawal_id) <= 36 else None
    if withdrawal is None or withdrawal.user_id != principal.user_id:
        raise NotFoundError("no such withdrawal", code="withdrawal_not_found")
    return present_withdrawal(withdrawal)


@router.get(
    "/withdrawals",
    response_model=Page[WithdrawalRead],
    summary="My withdrawals",
    responses=problems({422: ["validation_error", "invalid_cursor"]}),
)
async def list_withdrawals(
    principal: CurrentPrincipal, uow: UnitOfWorkDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[WithdrawalRead]:
    """The caller's withdrawals, newest first."""
    rows = await PaymentsRepository(uow).withdrawals(
        principal.user_id, before_seq=decode_cursor(cursor), limit=limit + 1
    )
    page = rows[:limit]
    return Page(
        items=[present_withdrawal(withdrawal) for withdrawal in page],
        next_cursor=encode_cursor(page[-1].seq) if len(rows) > limit else None,
    )
