"""A lean HTTP/1.1 keep-alive client for the load generator.

httpx spent about 2 ms of CPU on every request on the benchmark's 2-core machine, so a
generator offering 1,000 transfers a second would have taken the cores the services
need. This client writes the request itself and parses the answer with httptools (the
parser uvicorn uses, installed with Tijori): about 0.1 ms per request. It does only what
the generator needs: POST a JSON body over a pool of persistent connections to one host.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httptools


class ProtocolError(Exception):
    """The server's answer was not valid HTTP/1.1."""


class QueueTimeoutError(TimeoutError):
    """Every connection of the pool stayed busy until the request's time ran out: it was
    never sent."""


@dataclass
class Answer:
    """A response: status, the headers the generator reads, and the body."""

    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        """The body, decoded."""
        return json.loads(self.body)


@dataclass
class _Reading:
    """What httptools tells us while it parses one response."""

    parser: Any = None
    header: str = ""
    content_type: str = ""
    body: list[bytes] = field(default_factory=list)
    # read when the headers are in: once the message is complete the parser forgets it
    keep_alive: bool = False
    complete: bool = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header = name.decode("latin-1").lower()
        if self.header == "content-type":
            self.content_type = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, chunk: bytes) -> None:
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        self.complete = True


class Connection:
    """One persistent connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reusable = True

    async def exchange(self, request: bytes) -> Answer:
        """Send ``request`` and read the whole response."""
        self.writer.write(request)
        reading = _Reading()
        parser = reading.parser = httptools.HttpResponseParser(reading)
        while not reading.complete:
            chunk = await self.reader.read(65536)
            if not chunk:
                self.reusable = False
                raise ConnectionResetError("the server closed the connection")
            try:
                parser.feed_data(chunk)
            except httptools.HttpParserError as error:
                self.reusable = False
                raise ProtocolError(str(error)) from error
        self.reusable = reading.keep_alive
        return Answer(parser.get_status_code(), reading.content_type, b"".join(reading.body))

    def close(self) -> None:
        """Close the socket."""
        self.reusable = False
        self.writer.close()


class Pool:
    """At most ``size`` connections to ``host:port``, reused; callers queue for one.

    A request, waiting for a free connection included, fails after ``timeout_seconds``.
    """

    def __init__(self, host: str, port: int, size: int, *, timeout_seconds: float) -> None:
        self.host = host
        self.port = port
        self.timeout_seconds = timeout_seconds
        self.idle: list[Connection] = []
        self.slots = asyncio.Semaphore(size)

    async def post_json(self, path: str, payload: object, *, headers: dict[str, str]) -> Answer:
        """POST ``payload`` as JSON; raises QueueTimeoutError, TimeoutError (sent, but no
        answer in time), OSError or ProtocolError."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{head}\r\n"
        ).encode("latin-1") + body
        deadline = asyncio.get_running_loop().time() + self.timeout_seconds
        try:
            async with asyncio.timeout_at(deadline):
                await self.slots.acquire()
        except TimeoutError as error:
            raise QueueTimeoutError("no free connection") from error
        try:
            async with asyncio.timeout_at(deadline):
                while self.idle:
                    connection = self.idle.pop()
                    try:
                        return await self._exchange(connection, request)
                    except ConnectionResetError:
                        continue  # the server closed it while idle: the request never arrived
                connection = Connection(*await asyncio.open_connection(self.host, self.port))
                return await self._exchange(connection, request)
        finally:
            self.slots.release()

    async def _exchange(self, connection: Connection, request: bytes) -> Answer:
        try:
            answer = await connection.exchange(request)
        except BaseException:
            connection.close()
            raise
        if connection.reusable:
            self.idle.append(connection)
        else:
            connection.close()
        return answer

    async def close(self) -> None:
        """Close every idle connection."""
        for connection in self.idle:
            connection.close()
        self.idle.clear()
