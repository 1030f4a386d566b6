"""`tijori up` as a new user runs it: nothing configured, nothing installed but Tijori.

In an empty directory with no ``TIJORI_*`` variables it must bring its own databases
(SQLite), cache, broker (Tansu) and mail server, serve the whole product on port 8080,
and keep every balance, transaction and e-mail across a stop and a start.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

GATEWAY = "http://127.0.0.1:8080"
PIN = "482916"  # the transaction PIN asha confirms her payment with


def _clean_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("TIJORI_")}


class Up:
    """One `tijori up` process in a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.log = directory / "up.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        already = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tijori", "up"],
                cwd=self.directory,
                env=_clean_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            if b"Tijori is running" in self.log.read_bytes()[already:]:
                return
            time.sleep(0.5)
        raise AssertionError("tijori up did not come up:\n" + self.log.read_text()[-3000:])

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def tijori(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tijori", *args],
            cwd=self.directory,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    running = Up(tmp_path)
    yield running
    if running.process is not None and running.process.poll() is None:
        running.process.kill()


def _wait(probe: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _token(client: httpx.Client, email: str) -> dict[str, str]:
    answer = client.post("/api/auth/token", data={"username": email, "password": "correct horse"})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _paid(client: httpx.Client, auth: dict[str, str], body: dict[str, str], key: str) -> Any:
    """The headers of a transfer: its key and the payment token the PIN buys for it."""
    answer = client.post(
        "/api/auth/payment-token",
        json={"pin": PIN, "amount": body["amount"], "receiver": body["receiver"]}
        | {"idempotency_key": key},
        headers=auth,
    )
    assert answer.status_code == 200, answer.text
    return auth | {"Idempotency-Key": key, "X-Payment-Token": answer.json()["payment_token"]}


def _verify(client: httpx.Client, auth: dict[str, str], email: str) -> None:
    """Verify ``email`` with the code the development mailbox shows (the embedded default
    requires it before paying, and credits the promotion after it)."""

    def code() -> str | None:
        items = client.get("/api/dev/mailbox", params={"receiver": email}).json()["items"]
        for item in items:
            if item["subject"] == "Your Tijori verification code":
                [found] = re.findall(r"\b[0-9]{6}\b", item["body"])
                return str(found)
        return None

    answer = client.post(
        "/api/users/me/email/verify", json={"code": _wait(code, "the code")}, headers=auth
    )
    assert answer.status_code == 200 and answer.json()["email_verified"], answer.text


def _wallet(client: httpx.Client, auth: dict[str, str]) -> Any:
    def probe() -> Any:
        answer = client.get("/api/wallets/me", headers=auth)
        return answer.json() if answer.status_code == 200 else None

    return _wait(probe, "a wallet")


def test_tijori_up_runs_everything_embedded_and_keeps_it_across_a_restart(up: Up) -> None:
    up.start()
    assert "embedded broker" in up.log.read_text()
    second = up.tijori("up")
    assert second.returncode == 1 and "already running" in second.stdout

    with httpx.Client(base_url=GATEWAY, timeout=30) as client:
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert "transactions-worker" in ready.json()["checks"]
        page = client.get("/")
        assert "<html" in page.text.lower()
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        people = {
            "asha": ("asha@example.com", "9876500001"),
            "ravi": ("ravi@example.com", "9876500002"),
        }
        for name, (email, phone) in people.items():
            created = client.post(
                "/api/users",
                json={
                    "name": name.title(),
                    "email": email,
                    "phone": phone,
                    "password": "correct horse",
                },
            )
            assert created.status_code == 201, created.text
        asha, ravi = _token(client, "asha@example.com"), _token(client, "ravi@example.com")
        assert _wallet(client, asha)["balance"] == "0.00"  # the promotion waits for the code
        pin = client.put("/api/users/me/pin", json={"pin": PIN}, headers=asha)
        assert pin.status_code == 204, pin.text
        unverified = client.post(
            "/api/auth/payment-token",
            json={"pin": PIN, "amount": "1.00", "receiver": "9876500002"}
            | {"idempotency_key": "e2e-early"},
            headers=asha,
        )
        assert unverified.status_code == 403, unverified.text
        assert unverified.json()["code"] == "email_not_verified"
        for auth, email in ((asha, "asha@example.com"), (ravi, "ravi@example.com")):
            _verify(client, auth, email)
            _wait(lambda a=auth: _wallet(client, a)["balance"] == "100.00", "the promotion")

        # ready means ready: once both wallets show, the first payment is accepted at once
        # (it was refused with receiver_not_found for ~2.5 s more while the consumers
        # joined their groups); half a second for wallet.created to reach transactions,
        # as a person would take to read the balance
        time.sleep(0.5)
        lunch = {"receiver": "9876500002", "amount": "12.50", "note": "lunch"}
        accepted = client.post(
            "/api/transactions", json=lunch, headers=_paid(client, asha, lunch, "e2e-lunch")
        )
        assert accepted.status_code == 202, accepted.text
        txn = accepted.json()

        def settled() -> Any:
            body = client.get(f"/api/transactions/{txn['id']}", headers=asha).json()
            return body if body["status"] != "PENDING" else None

        assert _wait(settled, "the transfer to settle")["status"] == "SUCCESS"
        assert _wallet(client, asha)["balance"] == "87.50"
        assert _wallet(client, ravi)["balance"] == "112.50"

        def mail_arrived() -> bool:
            listing = up.tijori("mail").stdout
            return (
                "You received ₹12.50 from Asha" in listing and "You sent ₹12.50 to Ravi" in listing
            )

        _wait(mail_arrived, "the transfer e-mails")
        inbox = client.get("/api/dev/mailbox", params={"receiver": "ravi@example.com"}).json()[
            "items"
        ]
        assert {item["subject"] for item in inbox} == {
            "Welcome to Tijori",
            "Your Tijori verification code",
            "You received ₹12.50 from Asha",
        }

    assert up.stop() == 0
    assert "stopped" in up.log.read_text()
    with pytest.raises(httpx.ConnectError):
        httpx.get(GATEWAY + "/health", timeout=2)

    up.start()
    with httpx.Client(base_url=GATEWAY, timeout=30) as client:
        asha = _token(client, "asha@example.com")
        assert _wallet(client, asha)["balance"] == "87.50"
        history = client.get("/api/transactions", headers=asha).json()["items"]
        assert [(t["id"], t["amount"], t["status"], t["note"]) for t in history] == [
            (txn["id"], "12.50", "SUCCESS", "lunch")
        ]
        # the PIN survived the restart too; a new token for the same payment replays it
        again = client.post(
            "/api/transactions", json=lunch, headers=_paid(client, asha, lunch, "e2e-lunch")
        )
        assert again.json()["id"] == txn["id"]
        time.sleep(3)  # the restarted broker got the outbox replayed: nothing may be sent twice
        listing = up.tijori("mail", "--limit", "100").stdout
        assert listing.count("Welcome to Tijori") == 2
        assert listing.count("You received ₹12.50") == 1
    assert up.stop() == 0
