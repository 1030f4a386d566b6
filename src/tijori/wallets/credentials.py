"""The caller's own password, checked by users before a wallet is unfrozen.

Wallets reads no table of users': it asks users' own public route
(``POST /api/users/me/password/check``) with the caller's own bearer token, as payments
asks wallets for a balance (payments/balances.py), so wallets gains no right of its own
and users counts wrong passwords with its log-in limits. A users that does not answer
(no replica in ``users_timeout_seconds``) refuses the unfreeze with 503: unlike a
pre-check, this step may not be skipped.
"""

from __future__ import annotations

import logging

import httpx

from tijori.common.errors import PROBLEM_CODES, ProblemError
from tijori.common.peers import Peer

log = logging.getLogger(__name__)


class PasswordRefusedError(ProblemError):
    """Users refused the password check: its status and code, passed on as they are
    (401 ``invalid_credentials`` or ``session_ended``, 429 ``too_many_attempts``)."""


class UsersUnavailableError(ProblemError):
    """No replica of users answered the password check: nothing was changed."""

    status, code = 503, "service_unavailable"


class PasswordChecker:
    """Asks users whether a password is the caller's (any of its replicas in turn)."""

    def __init__(
        self,
        urls: list[str],
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.users = Peer("users", urls, timeout=timeout, transport=transport)

    async def check(self, authorization: str, password: str) -> None:
        """Return when users says ``password`` is the caller's; raise
        :class:`PasswordRefusedError` with users' refusal, or
        :class:`UsersUnavailableError` when no replica answered."""
        answer = await self.users.ask(
            "POST",
            "/api/users/me/password/check",
            authorization=authorization,
            json={"password": password},
        )
        if answer is None:
            raise UsersUnavailableError(
                "your password could not be checked just now; nothing was changed, try again"
            )
        if answer.status_code != httpx.codes.NO_CONTENT:
            raise _refusal(answer)

    async def aclose(self) -> None:
        """Release the connections."""
        await self.users.aclose()


def _refusal(answer: httpx.Response) -> ProblemError:
    """Users' 4xx answer as this service's problem: the same status and code (a code
    wallets does not know is ``invalid_credentials``), and its ``Retry-After``."""
    try:
        body = answer.json()
        code = body.get("code") if isinstance(body, dict) else None
    except ValueError:
        code = None
    if not isinstance(code, str) or code not in PROBLEM_CODES:
        code = "invalid_credentials"
    details = {
        "invalid_credentials": "the password is wrong",
        "too_many_attempts": "too many wrong passwords; try again later",
        "session_ended": "this session has ended: log in again",
    }
    retry_after = answer.headers.get("Retry-After")
    refusal = PasswordRefusedError(
        details.get(code, "the password could not be accepted"),
        code=code,
        headers={"Retry-After": retry_after} if retry_after else None,
    )
    refusal.status = answer.status_code
    return refusal
