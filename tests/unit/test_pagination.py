"""Cursors are opaque and checked."""

from __future__ import annotations

import pytest

from tijori.common.errors import UnprocessableError
from tijori.common.pagination import decode_cursor, encode_cursor


def test_a_cursor_round_trips() -> None:
    for position in (0, 1, 42, 2**62):
        assert decode_cursor(encode_cursor(position)) == position
    assert decode_cursor(None) is None


@pytest.mark.parametrize("cursor", ["", "abc", "djE6LTE", "djI6MQ", "!!!", "djE6" + "OTk5" * 10])
def test_a_forged_cursor_is_a_422(cursor: str) -> None:
    with pytest.raises(UnprocessableError) as raised:
        decode_cursor(cursor)
    assert raised.value.code == "invalid_cursor"
