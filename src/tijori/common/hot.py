"""Hot routes: a route every payment takes, served ahead of FastAPI's own stack.

A payment makes two requests: its payment token (users) and the transfer. The token's
route does little (one read, one cache step, one signature), so FastAPI's layers were
most of its cost: its middleware, routing, dependency solving and validation took about
0.5 ms of the 1.5 ms of CPU the route cost users (docs/performance.md, fifteenth round).

A :class:`HotRoute` is still a FastAPI route: it is declared, documented and tested as
one, and FastAPI answers every request the hot path does not take. The hot path takes a
request only when it is well-formed: a JSON body that parses strictly
(:func:`tijori.common.body.loads`) into the route's model, and a bearer token that
verifies. Anything else (a malformed body, a missing or bad token, another content
type, a body over :data:`HOT_BODY_MAX`) goes on, with the bytes already read, to the
full stack, which answers exactly as it would have, so the errors of bad input have
one source. What the hot path keeps of the stack: the correlation id (echoed as
``X-Request-ID``), a server span continuing ``traceparent``, the request metrics, and
problem+json for what the endpoint raises (:mod:`tijori.common.errors`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import FastAPI
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, ValidationError
from starlette.datastructures import State
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from tijori.common.auth import Principal, TokenKeys
from tijori.common.body import loads
from tijori.common.errors import (
    DEPENDENCY_ERRORS,
    ProblemError,
    UnauthorizedError,
    dependency_down,
    problem_of,
    problem_response,
)
from tijori.common.metrics import record_request
from tijori.common.tracing import (
    TRACEPARENT,
    continue_trace,
    echoing_request_id,
    request_id_of,
)

log = logging.getLogger(__name__)

# the largest body the hot path reads itself; a longer one is the full stack's
HOT_BODY_MAX = 16_384
# where a declined request keeps what the hot path read of it, for :func:`replaying`
REPLAY_KEY = "tijori.hot_path_read"

BodyT = TypeVar("BodyT", bound=BaseModel)


@dataclass(frozen=True)
class HotRoute(Generic[BodyT]):
    """``method path`` answered by ``endpoint(app.state, caller, body)`` for a
    well-formed request; the FastAPI route of the same method and path answers the
    rest (and is the one OpenAPI documents)."""

    method: str
    path: str
    body: type[BodyT]
    endpoint: Callable[[State, Principal, BodyT], Awaitable[BaseModel]]

    def accept(
        self, keys: TokenKeys, headers: dict[bytes, bytes], raw: bytes
    ) -> tuple[Principal, BodyT] | None:
        """The caller and the body of a well-formed request; ``None`` for any other."""
        content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip()
        authorization = headers.get(b"authorization", b"")
        scheme, _, credentials = authorization.partition(b" ")
        if content_type.lower() != b"application/json" or scheme.lower() != b"bearer":
            return None
        try:
            principal = keys.verify(credentials.decode("latin-1"))
            return principal, self.body.model_validate(loads(raw))
        except (UnauthorizedError, ValueError, ValidationError):  # JSON errors are ValueErrors
            return None

    async def serve(self, app: FastAPI, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer the request and return True; or return False, the full stack to
        answer it, with what was read of it kept for :func:`replaying`."""
        started = time.perf_counter()
        read: list[Message] = []  # as they came, for the full stack if it is to answer
        size = 0
        while size <= HOT_BODY_MAX:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":  # the client went: the full stack says so
                break
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        last = read[-1]
        headers = dict(scope["headers"])
        accepted = None
        # a header sent twice is the full stack's to read (it takes the first, a dict the last)
        if len(headers) == len(scope["headers"]) and (
            last["type"] == "http.request" and not last.get("more_body", False)
        ):
            body = b"".join(message.get("body", b"") for message in read)
            accepted = self.accept(app.state.token_keys, headers, body)
        if accepted is None:
            scope[REPLAY_KEY] = read
            return False
        principal, model = accepted
        request_id = request_id_of(headers)
        traceparent = headers.get(TRACEPARENT.encode())
        status = 500
        try:
            with continue_trace(
                f"{self.method} {self.path}",
                traceparent=traceparent.decode("latin-1") if traceparent else None,
                correlation_id=request_id,
                kind=SpanKind.SERVER,
            ):
                response = await self._answer(app, principal, model)
                status = response.status_code
                await response(scope, receive, echoing_request_id(send, request_id))
        finally:
            record_request(self.path, self.method, status, time.perf_counter() - started)
        return True

    async def _answer(self, app: FastAPI, principal: Principal, body: BodyT) -> Response:
        try:
            result = await self.endpoint(app.state, principal, body)
        except ProblemError as error:
            return problem_of(error)
        except DEPENDENCY_ERRORS as error:
            return dependency_down(self.method, self.path, error)
        except Exception:
            log.exception("unhandled error on %s %s", self.method, self.path)
            return problem_response(500, "internal_error", "an unexpected error occurred")
        return Response(result.model_dump_json(), media_type="application/json")


def replaying(scope: Scope, receive: Receive) -> Receive:
    """``receive`` for the full stack after the hot path declined a request: the
    messages the hot path read, as they came, then the rest from ``receive``."""
    pending: list[Message] = scope.pop(REPLAY_KEY, [])

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class HotApp(FastAPI):
    """A FastAPI app that serves its :class:`HotRoute` s ahead of its own stack
    (``create_service_app`` checks that each has its FastAPI route)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hot_routes: dict[tuple[str, str], HotRoute[Any]] = {}

    def serve_hot(self, routes: Sequence[HotRoute[Any]]) -> None:
        """Serve ``routes`` on the hot path from now on."""
        self.hot_routes = {(route.method, route.path): route for route in routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self.hot_routes.get((scope["method"], scope["path"]))
            if route is not None:
                if await route.serve(self, scope, receive, send):
                    return
                receive = replaying(scope, receive)
        await super().__call__(scope, receive, send)
