"""HTTP routes of log-in sessions: refreshing tokens, listing and ending sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from tijori.common.app import RuntimeDep, UnitOfWorkDep
from tijori.common.auth import CurrentPrincipal, Principal
from tijori.common.body import StrictJsonRoute
from tijori.common.openapi import problems
from tijori.users import service, sessions
from tijori.users.api import SettingsDep
from tijori.users.schemas import RefreshRequest, SessionList, SessionRead, TokenResponse

router = APIRouter(prefix="/api", tags=["sessions"], route_class=StrictJsonRoute)


async def current_session(
    principal: CurrentPrincipal, uow: UnitOfWorkDep, settings: SettingsDep
) -> Principal:
    """The caller, whose session must still be open: 401 ``session_ended`` otherwise."""
    await sessions.current(uow, principal=principal, settings=settings)
    return principal


SessionPrincipal = Annotated[Principal, Depends(current_session)]
"""The verified caller of a route, in a session that is still open."""


@router.post(
    "/auth/refresh",
    response_model=TokenResponse,
    summary="Refresh my tokens",
    responses=problems({401: ["invalid_refresh_token"], 422: ["validation_error"]}),
)
async def refresh_tokens(
    body: RefreshRequest, uow: UnitOfWorkDep, runtime: RuntimeDep, settings: SettingsDep
) -> TokenResponse:
    """Exchange the refresh token for a new access token and the session's next refresh
    token; the one sent is used up. Sending a used one again ends its session (someone
    else holds its tokens): 401 `invalid_refresh_token`, as for an unknown or expired one."""
    try:
        tokens = await service.refresh(
            uow, keys=runtime.token_keys, settings=settings, refresh_token=body.refresh_token
        )
    except sessions.RefreshTokenReusedError:
        await uow.commit()  # the session it ended stays ended
        raise
    await uow.commit()
    return tokens


@router.get(
    "/sessions",
    response_model=SessionList,
    summary="My sessions",
    responses=problems({401: ["session_ended"]}),
)
async def list_my_sessions(
    principal: SessionPrincipal, uow: UnitOfWorkDep, settings: SettingsDep
) -> SessionList:
    """Where the caller is logged in, the most recently used first; `current` marks the
    session of this very access token."""
    found = await sessions.open_sessions(uow, user_id=principal.user_id, settings=settings)
    return SessionList(
        items=[
            SessionRead.model_validate(row).model_copy(
                update={"current": row.id == principal.session_id}
            )
            for row in found
        ]
    )


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End a session",
    responses=problems({401: ["session_ended"], 404: ["session_not_found"]}),
)
async def end_session(session_id: str, principal: SessionPrincipal, uow: UnitOfWorkDep) -> Response:
    """End one of the caller's sessions (their own current one: a log-out); its refresh
    token stops working at once, its access token within its lifetime at most."""
    await sessions.end_one(
        uow,
        user_id=principal.user_id,
        session_id=session_id,
        current_session_id=principal.session_id,
    )
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/sessions",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out everywhere else",
    responses=problems({401: ["session_ended"]}),
)
async def end_other_sessions(principal: SessionPrincipal, uow: UnitOfWorkDep) -> Response:
    """End every session of the caller's but this one."""
    await sessions.end_others(
        uow, user_id=principal.user_id, keep=principal.session_id, reason="logout_everywhere"
    )
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
