"""The event envelope: typed payloads in, typed payloads out, anything else refused."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tijori.common.events import (
    EVENT_TYPES,
    Envelope,
    UnknownEventError,
    UserCreated,
    WalletCreated,
    new_event,
    parse_event,
    topic_name,
)

USER = UserCreated(user_id="u1", name="Asha", email="asha@example.com", phone="+919876543210")


def test_an_event_round_trips_through_json_with_its_typed_payload() -> None:
    event = new_event(USER, correlation_id="req-1")
    parsed = parse_event(event.model_dump_json().encode())
    assert parsed.type == "user.created"
    assert parsed.id == event.id
    assert parsed.correlation_id == "req-1"
    assert parsed.version == 1
    assert isinstance(parsed.payload, UserCreated)
    assert parsed.payload == USER
    assert parsed.occurred_at == event.occurred_at


def test_each_event_gets_a_fresh_id() -> None:
    assert new_event(USER).id != new_event(USER).id


def test_the_type_follows_the_payload() -> None:
    wallet = WalletCreated(
        wallet_id="w",
        user_id="u",
        name="n",
        email="e@x.co",
        phone="+91",
        balance_paise=1,
        version=1,
    )
    assert new_event(wallet).type == "wallet.created"
    assert set(EVENT_TYPES) >= {"user.created", "wallet.created"}


def test_unknown_types_and_malformed_messages_are_refused() -> None:
    body = json.loads(new_event(USER).model_dump_json())
    with pytest.raises(UnknownEventError):
        parse_event(json.dumps(body | {"type": "user.deleted"}))
    with pytest.raises(ValidationError):
        parse_event(json.dumps(body | {"payload": {"user_id": "u1"}}))
    with pytest.raises(ValidationError):
        parse_event(json.dumps(body | {"payload": body["payload"] | {"extra": 1}}))
    with pytest.raises(ValidationError):
        parse_event(b"not json")


def test_topics_carry_the_configured_prefix() -> None:
    assert topic_name("user.created") == "user.created"
    assert topic_name("user.created", "test-1.") == "test-1.user.created"


def test_the_envelope_is_immutable() -> None:
    event: Envelope[UserCreated] = new_event(USER)
    with pytest.raises(ValidationError):
        event.type = "other"  # type: ignore[misc]
