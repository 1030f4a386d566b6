"""``tijori serve sandbox`` as a real process, and a merchant's webhook endpoint for it.

For any test that needs the payment gateway out of process (the fault tests kill it
to take the gateway down)::

    with WebhookReceiver() as merchant, SandboxProcess(tmp_path, merchant.url) as sandbox:
        httpx.post(sandbox.url + "/v1/orders", auth=sandbox.auth, json={"amount": 100})
        sandbox.kill()      # SIGKILL: the gateway is gone, its state file stays
        sandbox.start()     # the same port and state; pending webhooks go on
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

KEY_ID = "rzp_test_e2e"
KEY_SECRET = "e2e-key-secret"
WEBHOOK_SECRET = "e2e-webhook-secret"


def free_port() -> int:
    """A local TCP port nobody listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def signed(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    """The ``X-Razorpay-Signature`` a body must carry, computed here."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Webhook:
    """One POST the merchant received: its headers (lower-case names) and raw body."""

    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        """The parsed body."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def event_id(self) -> str:
        """``X-Razorpay-Event-Id``."""
        return self.headers["x-razorpay-event-id"]


@dataclass
class WebhookReceiver:
    """An HTTP server on a free port that records every webhook and answers with the
    statuses in ``answers`` first, then 200."""

    answers: list[int] = field(default_factory=list)
    received: list[Webhook] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {key.lower(): value for key, value in self.headers.items()}
                with receiver._lock:
                    receiver.received.append(Webhook(headers, body))
                    status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)

    @property
    def url(self) -> str:
        """Where the sandbox is to post webhooks."""
        return f"http://127.0.0.1:{self.port}/webhooks/razorpay"

    def events(self) -> list[str]:
        """The event names received, in order."""
        with self._lock:
            return [webhook.event["event"] for webhook in self.received]

    def wait_for(self, count: int, timeout: float = 10) -> list[Webhook]:
        """Wait until at least ``count`` webhooks arrived; all of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} webhooks arrived, not {count}")

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class SandboxProcess:
    """``tijori serve sandbox`` on a free port, its state under ``data_dir``."""

    def __init__(self, data_dir: Path, webhook_url: str, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth = (KEY_ID, KEY_SECRET)
        self.log = data_dir / "sandbox.log"
        env = {key: value for key, value in os.environ.items() if not key.startswith("TIJORI_")}
        self.env = env | {
            "TIJORI_DATA_DIR": str(data_dir),
            "TIJORI_PSP_KEY_ID": KEY_ID,
            "TIJORI_PSP_KEY_SECRET": KEY_SECRET,
            "TIJORI_PSP_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "TIJORI_SANDBOX_WEBHOOK_URL": webhook_url,
            "TIJORI_SANDBOX_WEBHOOK_RETRY_SECONDS": "0.2",
            "TIJORI_SANDBOX_PAYOUT_SECONDS": "0.2",
            "TIJORI_SANDBOX_TICK_SECONDS": "0.05",
            **{f"TIJORI_{key.upper()}": value for key, value in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        """Start it and wait until ``/health`` answers."""
        command = [sys.executable, "-m", "tijori", "serve", "sandbox", "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the sandbox exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"the sandbox did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: the gateway is gone at once, as in a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop it gently, if it runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def deliveries(self) -> dict[str, Any]:
        """``GET /_sandbox/webhooks``."""
        body: dict[str, Any] = httpx.get(f"{self.url}/_sandbox/webhooks", timeout=5).json()
        return body

    def wait_settled(self, timeout: float = 10) -> dict[str, Any]:
        """Wait until no webhook is pending or held; the deliveries then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.deliveries()
            if body["settled"]:
                return body
            time.sleep(0.05)
        raise AssertionError(f"webhooks still pending: {self.deliveries()['counts']}")

    def __enter__(self) -> SandboxProcess:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
