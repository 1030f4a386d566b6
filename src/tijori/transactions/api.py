"""HTTP routes of the transactions service."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tijori.common.app import ServiceRuntime, SessionDep
from tijori.common.auth import CurrentPrincipal
from tijori.common.body import StrictJsonRoute
from tijori.common.cache import Cache
from tijori.common.errors import NotFoundError, UnprocessableError
from tijori.common.openapi import problems
from tijori.common.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from tijori.transactions import service
from tijori.transactions.acceptor import TransferAcceptor
from tijori.transactions.config import TransactionsSettings
from tijori.transactions.repository import TransactionRepository
from tijori.transactions.schemas import Direction, Status, TransactionRead, TransferRequest
from tijori.transactions.service import Accepted

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/transactions", tags=["transactions"], route_class=StrictJsonRoute)

MAX_IDEMPOTENCY_KEY = 255


@dataclass(frozen=True)
class TransferDesk:
    """What accepting a transfer needs besides the request; one per process."""

    sessions: async_sessionmaker[AsyncSession]
    cache: Cache
    settings: TransactionsSettings
    acceptor: TransferAcceptor


async def get_desk(request: Request) -> TransferDesk:
    """The process's transfer desk, with its acceptor (which stores concurrent transfers
    together). One dependency instead of four (runtime, session, settings, acceptor) for
    the busiest route: FastAPI resolves each anew on every request, and resolving
    dependencies was an eighth of this process's CPU (docs/performance.md)."""
    desk: TransferDesk | None = getattr(request.app.state, "transfer_desk", None)
    if desk is None:
        runtime: ServiceRuntime = request.app.state.runtime
        assert isinstance(runtime.settings, TransactionsSettings)
        desk = request.app.state.transfer_desk = TransferDesk(
            sessions=runtime.sessions,
            cache=runtime.cache,
            settings=runtime.settings,
            acceptor=TransferAcceptor(runtime.sessions),
        )
    return desk


DeskDep = Annotated[TransferDesk, Depends(get_desk)]


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Any string up to 255 characters; the same key and body give the "
            "same transaction, the same key with another body a 409.",
        ),
    ] = None,
) -> str | None:
    """The request's Idempotency-Key, checked."""
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise UnprocessableError(
            f"an Idempotency-Key is 1 to {MAX_IDEMPOTENCY_KEY} printable characters",
            code="invalid_idempotency_key",
        )
    return key


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TransactionRead,
    summary="Send money",
    responses=problems(
        {
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
            ],
        }
    ),
)
async def send_money(
    body: TransferRequest,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    desk: DeskDep,
    key: Annotated[str | None, Depends(idempotency_key)],
) -> TransactionRead:
    """Accept a transfer; it is PENDING until the wallets service applies it."""
    async with desk.sessions() as session:  # closed before the acceptor stores it
        checked = await service.check_transfer(
            session,
            cache=desk.cache,
            settings=desk.settings,
            sender=principal,
            request=body,
            idempotency_key=key,
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
    return service.present(transaction, viewer=principal.user_id, names=accepted.names)


@router.get(
    "/{transaction_id}",
    response_model=TransactionRead,
    summary="One transaction",
    responses=problems({404: ["transaction_not_found"]}),
)
async def read_transaction(
    transaction_id: str, principal: CurrentPrincipal, session: SessionDep
) -> TransactionRead:
    """A transaction, for its sender, its receiver or an admin; 404 for anyone else."""
    repository = TransactionRepository(session)
    transaction = await repository.get(transaction_id) if len(transaction_id) <= 36 else None
    if transaction is None or (
        principal.user_id not in (transaction.sender_id, transaction.receiver_id)
        and not principal.is_admin
    ):
        raise NotFoundError("no such transaction", code="transaction_not_found")
    names = await repository.names((transaction.sender_id, transaction.receiver_id))
    return service.present(transaction, viewer=principal.user_id, names=names)


@router.get(
    "",
    response_model=Page[TransactionRead],
    summary="My transactions",
    responses=problems({422: ["validation_error", "invalid_cursor"]}),
)
async def list_transactions(
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 20,
    cursor: Cursor = None,
    status_filter: Annotated[Status | None, Query(alias="status")] = None,
    direction: Annotated[Direction | None, Query()] = None,
) -> Page[TransactionRead]:
    """The caller's sent and received transactions, newest first."""
    repository = TransactionRepository(session)
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
        items=[service.present(txn, viewer=principal.user_id, names=names) for txn in page],
        next_cursor=encode_cursor(page[-1].seq) if len(rows) > limit else None,
    )
