"""HTTP routes of the notifications service."""

from __future__ import annotations

from fastapi import APIRouter

from tijori.common.app import UnitOfWorkDep
from tijori.common.auth import CurrentPrincipal
from tijori.common.body import StrictJsonRoute
from tijori.common.openapi import problems
from tijori.common.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from tijori.notifications.messages import shown_message
from tijori.notifications.repository import NotificationRepository
from tijori.notifications.schemas import NotificationRead

router = APIRouter(prefix="/api/notifications", tags=["notifications"], route_class=StrictJsonRoute)


@router.get(
    "",
    response_model=Page[NotificationRead],
    summary="My notifications",
    responses=problems({422: ["validation_error", "invalid_cursor"]}),
)
async def list_my_notifications(
    principal: CurrentPrincipal, uow: UnitOfWorkDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[NotificationRead]:
    """The caller's notifications, newest first, with their delivery status (a
    verification code's e-mail without its code)."""
    rows = await NotificationRepository(uow).for_user(
        principal.user_id, before_id=decode_cursor(cursor), limit=limit + 1
    )
    items = [
        NotificationRead.model_validate(row).model_copy(
            update={"message": shown_message(row.kind, row.message)}
        )
        for row in rows[:limit]
    ]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)
