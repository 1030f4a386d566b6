"""The Postman collection, run by newman against a stack of its own, passes every check.

The stack runs on the real MariaDB, Kafka and Redis beside the integration suite's
(ports 18380-18384, ``tijori_postman_*`` databases, its own topic prefix).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.stack import start_stack, stop_stack

pytestmark = pytest.mark.real

POSTMAN = Path(__file__).resolve().parents[2] / "postman"
COLLECTION = POSTMAN / "tijori.postman_collection.json"
ENVIRONMENT = POSTMAN / "tijori.postman_environment.json"
NEWMAN = POSTMAN / "node_modules" / ".bin" / "newman"
MIN_ASSERTIONS = 40


@dataclass
class NewmanRun:
    """What one ``newman run`` of the collection left behind."""

    returncode: int
    output: str
    report: dict[str, Any]

    @property
    def stats(self) -> dict[str, Any]:
        """The run's counts (requests, assertions, ...: each ``{total, failed}``)."""
        stats: dict[str, Any] = self.report["run"]["stats"]
        return stats

    def failures(self) -> list[str]:
        """Each failed check as ``request: message``."""
        return [
            f"{failure.get('source', {}).get('name', '?')}: {failure['error'].get('message')}"
            for failure in self.report["run"].get("failures", [])
        ]


def install_newman() -> None:
    """``npm ci`` in postman/ unless newman is already installed there."""
    if NEWMAN.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "npm is not installed: the Postman collection is run with newman from the npm "
            "registry (install Node.js 18+ with npm, e.g. `apt-get install nodejs npm`)"
        )
    installed = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=POSTMAN,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert installed.returncode == 0, f"npm ci failed:\n{installed.stdout}\n{installed.stderr}"
    assert NEWMAN.exists(), f"npm ci did not install {NEWMAN}"


@pytest.fixture(scope="module")
def newman_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewmanRun]:
    """Start a stack, run the whole collection against its gateway once."""
    install_newman()
    workdir = tmp_path_factory.mktemp("stack-postman")
    stack = start_stack(workdir, ports_offset=300, db_prefix="tijori_postman_")
    report_path = workdir / "newman.json"
    try:
        finished = subprocess.run(
            [
                str(NEWMAN),
                "run",
                str(COLLECTION),
                "--environment",
                str(ENVIRONMENT),
                "--env-var",
                f"baseUrl={stack.gateway}",
                "--timeout-request",
                "30000",
                "--reporters",
                "cli,json",
                "--reporter-json-export",
                str(report_path),
                "--color",
                "off",
            ],
            cwd=POSTMAN,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        stop_stack(stack)
    output = finished.stdout + finished.stderr
    assert report_path.exists(), f"newman wrote no report:\n{output}"
    yield NewmanRun(finished.returncode, output, json.loads(report_path.read_text()))


def test_newman_runs_the_collection_and_exits_zero(newman_run: NewmanRun) -> None:
    assert newman_run.returncode == 0, "\n".join([*newman_run.failures(), newman_run.output])


def test_every_assertion_of_the_collection_passes(newman_run: NewmanRun) -> None:
    assertions = newman_run.stats["assertions"]
    assert assertions["failed"] == 0, "\n".join(newman_run.failures())
    assert newman_run.stats["requests"]["failed"] == 0, "\n".join(newman_run.failures())
    assert assertions["total"] >= MIN_ASSERTIONS, newman_run.output


def test_every_request_of_the_collection_ran(newman_run: NewmanRun) -> None:
    collection = json.loads(COLLECTION.read_text())
    names = {item["name"] for folder in collection["item"] for item in folder["item"]}
    executed = {run["item"]["name"] for run in newman_run.report["run"]["executions"]}
    assert names - executed == set()
