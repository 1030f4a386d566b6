"""`tijori serve` keeps running when clients hang up in the middle of an answer."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_server_survives_clients_that_reset_the_connection_mid_answer(tmp_path: object) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIJORI_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "tijori", "serve", "gateway", "--port", str(port)],
        env=env | {"TIJORI_DATA_DIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        for _ in range(30):
            with socket.create_connection(("127.0.0.1", port)) as client:
                client.sendall(b"GET /styles.css HTTP/1.1\r\nHost: x\r\n\r\n" * 20)
                # close with RST: the server's next writes meet a dead peer (EPIPE)
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        time.sleep(1)
        assert server.poll() is None, f"the server died with {server.returncode}"
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=15)
