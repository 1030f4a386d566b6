"""HTTP routes of the transactions service."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from tijori.common.app import UnitOfWorkDep
from tijori.common.auth import PAYMENT_PROBLEMS, CurrentPrincipal, PaymentTokenDep
from tijori.common.body import StrictJsonRoute
from tijori.common.errors import NotFoundError
from tijori.common.idempotency import idempotency_key_header
from tijori.common.openapi import problems
from tijori.common.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from tijori.transactions import acceptance
from tijori.transactions.acceptance import Accepted
from tijori.transactions.acceptor import TransferDesk
from tijori.transactions.models import Transaction
from tijori.transactions.repository import TransactionRepository
from tijori.transactions.schemas import (
    Direction,
    PartyRead,
    Status,
    TransactionRead,
    TransferRequest,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/transactions", tags=["transactions"], route_class=StrictJsonRoute)


async def get_desk(request: Request) -> TransferDesk:
    """The process's transfer desk, built at start-up (see :class:`TransferDesk`)."""
    desk: TransferDesk = request.app.state.transfer_desk
    return desk


DeskDep = Annotated[TransferDesk, Depends(get_desk)]


idempotency_key = idempotency_key_header(
    "Required (400 without it): any string up to 255 characters, the one the payment "
    "token was asked for; the same key and body give the same transaction, the same key "
    "with another body a 409."
)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TransactionRead,
    summary="Send money",
    responses=problems(
        PAYMENT_PROBLEMS
        | {
            404: ["receiver_not_found", "wallet_not_found"],
            409: ["idempotency_key_reused"],
            422: [
                "validation_error",
                "invalid_amount",
                "invalid_receiver",
                "invalid_note",
                "invalid_idempotency_key",
                "self_transfer",
                "insufficient_funds",
                "limit_exceeded",
            ],
            423: ["wallet_frozen"],
        },
        examples={
            "insufficient_funds": {
                "detail": "₹12.50 is available: too little for this transfer",
                "available": "12.50",
            },
            "limit_exceeded": {
                "detail": "₹37.50 is left of this month's limit on money sent to people: "
                "too little for this transfer",
                "limit": "monthly_p2p",
                "left": "37.50",
            },
        },
    ),
)
async def send_money(
    body: TransferRequest,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    desk: DeskDep,
    key: Annotated[str | None, Depends(idempotency_key)],
    payment: PaymentTokenDep,
) -> TransactionRead:
    """Accept a transfer authorised by its payment token (`X-Payment-Token`, from
    `POST /api/auth/payment-token` for this amount, receiver and Idempotency-Key; one
    transfer per token); it is PENDING until the wallets service applies it.

    Refused at once a transfer from a wallet known to be frozen (423 `wallet_frozen`,
    as a withdrawal is), and what the sender's last known balance (422
    `insufficient_funds`, with `available`) or limits (422 `limit_exceeded`, with
    `limit`: `daily_amount`, `daily_count` or `monthly_p2p`, and what is `left`: rupees,
    or payments for `daily_count`) cannot cover, PENDING transfers counted. Wallets
    decides the rest: a transfer past a limit the pre-check did not know of ends FAILED
    with the same `limit_exceeded` and `limit`, one from a wallet frozen a moment ago
    FAILED `wallet_frozen`."""
    async with desk.units() as uow:  # closed before the acceptor stores it
        checked = await acceptance.check_transfer(
            uow,
            cache=desk.cache,
            settings=desk.settings,
            sender=principal,
            request=body,
            idempotency_key=key,
            payment=payment,
            correlation_id=request.state.correlation_id,
        )
    accepted = checked if isinstance(checked, Accepted) else await desk.acceptor.accept(checked)
    transaction = accepted.transaction
    if accepted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        log.info(
            "transaction %s accepted: %d paise, PENDING", transaction.id, transaction.amount_paise
        )
    return present(transaction, viewer=principal.user_id, names=accepted.names)


@router.get(
    "/{transaction_id}",
    response_model=TransactionRead,
    summary="One transaction",
    responses=problems({404: ["transaction_not_found"]}),
)
async def read_transaction(
    transaction_id: str, principal: CurrentPrincipal, uow: UnitOfWorkDep
) -> TransactionRead:
    """A transaction, for its sender, its receiver or an admin; 404 for anyone else."""
    repository = TransactionRepository(uow)
    transaction = await repository.get(transaction_id) if len(transaction_id) <= 36 else None
    if transaction is None or (
        principal.user_id not in (transaction.sender_id, transaction.receiver_id)
        and not principal.is_admin
    ):
        raise NotFoundError("no such transaction", code="transaction_not_found")
    names = await repository.names((transaction.sender_id, transaction.receiver_id))
    return present(transaction, viewer=principal.user_id, names=names)


@router.get(
    "",
    response_model=Page[TransactionRead],
    summary="My transactions",
    responses=problems({422: ["validation_error", "invalid_cursor"]}),
)
async def list_transactions(
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    limit: Limit = 20,
    cursor: Cursor = None,
    status_filter: Annotated[Status | None, Query(alias="status")] = None,
    direction: Annotated[Direction | None, Query()] = None,
) -> Page[TransactionRead]:
    """The caller's sent and received transactions, newest first."""
    repository = TransactionRepository(uow)
    rows = await repository.history(
        principal.user_id,
        before_seq=decode_cursor(cursor),
        status=status_filter,
        direction=direction,
        limit=limit + 1,
    )
    page = rows[:limit]
    names = await repository.names(
        {txn.sender_id for txn in page} | {txn.receiver_id for txn in page}
    )
    return Page(
        items=[present(txn, viewer=principal.user_id, names=names) for txn in page],
        next_cursor=encode_cursor(page[-1].seq) if len(rows) > limit else None,
    )


def present(transaction: Transaction, *, viewer: str, names: Mapping[str, str]) -> TransactionRead:
    """A transaction as ``viewer`` sees it; ``names`` are the parties' names by user id."""

    def party(user_id: str) -> PartyRead:
        return PartyRead(id=user_id, name=names.get(user_id, ""))

    return TransactionRead(
        id=transaction.id,
        sender=party(transaction.sender_id),
        receiver=party(transaction.receiver_id),
        amount=transaction.amount_paise,
        currency="INR",
        note=transaction.note,
        status=transaction.status,
        reason=transaction.reason,
        limit=transaction.limit_name,
        direction="RECEIVED" if viewer == transaction.receiver_id else "SENT",
        created_at=transaction.created_at,
        updated_at=transaction.updated_at,
    )
