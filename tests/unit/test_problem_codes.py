"""Every problem code the code can answer with is documented, in OpenAPI and docs/errors.md."""

from __future__ import annotations

import re
from pathlib import Path

from tijori.common.errors import FIELD_CODES, PROBLEM_CODES

ROOT = Path(__file__).resolve().parents[2]
RAISED = re.compile(
    r"""(?:code=|PydanticCustomError\(\s*|problem_response\(\s*\d+,\s*)"([a-z_]+)\""""
)


def _codes_in_source() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "src" / "tijori").rglob("*.py"):
        found |= set(RAISED.findall(path.read_text()))
    return found


def test_every_code_the_services_answer_with_is_in_the_catalogue() -> None:
    codes = _codes_in_source()
    assert {"insufficient_funds", "receiver_not_found", "invalid_amount"} <= codes
    assert codes - set(PROBLEM_CODES) == set()
    assert set(PROBLEM_CODES) >= FIELD_CODES


def test_docs_list_every_code() -> None:
    listed = set(re.findall(r"^\| `([a-z_]+)` \|", (ROOT / "docs" / "errors.md").read_text(), re.M))
    assert listed == set(PROBLEM_CODES)
