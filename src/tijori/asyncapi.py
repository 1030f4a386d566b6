"""The AsyncAPI 3.0 document of Tijori's events, generated from the models the code uses.

Channels, messages and schemas come from ``tijori.common.events`` (``EVENT_TYPES`` and
``Envelope``), so the document cannot describe an event the code does not send. Who
produces and who consumes each event, and how messages are keyed, is the table of
docs/events.md; the tests check it against the services' code.

``python -m tijori.asyncapi [-o PATH] [--topic-prefix PREFIX]`` prints or writes it
(JSON, or YAML for a ``.yaml``/``.yml`` path); docs/asyncapi.json is its output.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tijori.common.bus import DEFAULT_PARTITIONS
from tijori.common.events import EVENT_TYPES, Envelope, topic_name

ASYNCAPI_VERSION = "3.0.0"
# the version of the event contract (envelope ``version`` 1), not of the package
CONTRACT_VERSION = "1.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
SCHEMA_REF = "#/components/schemas/{model}"
ENVELOPE = "Envelope"

PRODUCERS: dict[str, str] = {
    "user.created": "users",
    "user.email_code_issued": "users",
    "user.email_verified": "users",
    "wallet.created": "wallets",
    "wallet.promotion_credited": "wallets",
    "transaction.initiated": "transactions",
    "transfer.completed": "wallets",
    "transfer.rejected": "wallets",
    "transaction.completed": "transactions",
    "pin.locked": "users",
    "user.kyc_updated": "users",
    "topup.captured": "payments",
    "topup.credited": "wallets",
    "topup.rejected": "wallets",
    "topup.completed": "payments",
    "withdrawal.requested": "payments",
    "hold.updated": "wallets",
    "withdrawal.settled": "payments",
    "withdrawal.completed": "payments",
    "wallet.frozen": "wallets",
    "wallet.unfrozen": "wallets",
    "wallet.limits_changed": "wallets",
    "wallet.tier_limits": "wallets",
}
"""The service that writes each event to its outbox."""

CONSUMERS: dict[str, tuple[str, ...]] = {
    "user.created": ("wallets", "notifications", "payments"),
    "user.email_code_issued": ("notifications",),
    "user.email_verified": ("wallets",),
    "wallet.created": ("transactions",),
    "wallet.promotion_credited": ("transactions",),
    "transaction.initiated": ("wallets",),
    "transfer.completed": ("transactions",),
    "transfer.rejected": ("transactions",),
    "transaction.completed": ("notifications",),
    "pin.locked": ("notifications",),
    "user.kyc_updated": ("wallets", "notifications"),
    "topup.captured": ("wallets",),
    "topup.credited": ("payments",),
    "topup.rejected": ("payments",),
    "topup.completed": ("notifications",),
    "withdrawal.requested": ("wallets",),
    "hold.updated": ("payments",),
    "withdrawal.settled": ("wallets",),
    "withdrawal.completed": ("notifications",),
    "wallet.frozen": ("notifications",),
    "wallet.unfrozen": ("notifications",),
    "wallet.limits_changed": ("transactions",),
    "wallet.tier_limits": ("transactions",),
}
"""The services that consume each event; each consumes in a group named after itself."""

MESSAGE_KEYS: dict[str, tuple[str, str]] = {
    "user.created": ("the user id", "user_id"),
    "user.email_code_issued": ("the user id", "user_id"),
    "user.email_verified": ("the user id", "user_id"),
    "wallet.created": ("the user id (the wallet's owner)", "user_id"),
    "wallet.promotion_credited": ("the user id (the wallet's owner)", "user_id"),
    "transaction.initiated": ("the sender's user id", "sender_id"),
    "transfer.completed": ("the sender's user id", "sender_id"),
    "transfer.rejected": ("the sender's user id", "sender_id"),
    "transaction.completed": ("the sender's user id", "sender.user_id"),
    "pin.locked": ("the user id", "user_id"),
    "user.kyc_updated": ("the user id", "user_id"),
    "topup.captured": ("the user id", "user_id"),
    "topup.credited": ("the user id", "user_id"),
    "topup.rejected": ("the user id", "user_id"),
    "topup.completed": ("the user id", "user.user_id"),
    "withdrawal.requested": ("the user id", "user_id"),
    "hold.updated": ("the user id", "user_id"),
    "withdrawal.settled": ("the user id", "user_id"),
    "withdrawal.completed": ("the user id", "user.user_id"),
    "wallet.frozen": ("the user id (the wallet's owner)", "user_id"),
    "wallet.unfrozen": ("the user id (the wallet's owner)", "user_id"),
    "wallet.limits_changed": ("the user id (the wallet's owner)", "user_id"),
    # ordered by version, not by partition
    "wallet.tier_limits": ("the announcement's version, as a string", "version"),
}
"""The Kafka message key of each event: what it is, and the payload field that holds it."""

SERVERS: dict[str, dict[str, str]] = {
    "local": {
        "host": "127.0.0.1:9092",
        "protocol": "kafka",
        "description": "Apache Kafka started by infra/up.sh (make test, make run-real).",
    },
    "embedded": {
        "host": "127.0.0.1:29092",
        "protocol": "kafka",
        "description": "The Kafka-compatible broker `tijori up` starts when "
        "TIJORI_KAFKA_BOOTSTRAP is unset (make run).",
    },
    "compose": {
        "host": "kafka:9092",
        "protocol": "kafka",
        "description": "Apache Kafka of compose.yaml, as the services in it reach it.",
    },
}


def _channel_id(event_type: str) -> str:
    return event_type


def _operation_id(service: str, action: str, event_type: str) -> str:
    return f"{service}.{action}.{event_type}"


def _model_schema(model: type[Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """``model``'s JSON schema with its nested definitions moved to ``schemas``."""
    schema: dict[str, Any] = model.model_json_schema(ref_template=SCHEMA_REF)
    schemas.update(schema.pop("$defs", {}))
    return schema


def _message(event_type: str) -> dict[str, Any]:
    model = EVENT_TYPES[event_type]
    what, field = MESSAGE_KEYS[event_type]
    return {
        "name": event_type,
        "title": model.__name__,
        "summary": (model.__doc__ or "").strip().splitlines()[0],
        "contentType": "application/json",
        "payload": {
            "allOf": [
                {"$ref": SCHEMA_REF.format(model=ENVELOPE)},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": event_type},
                        "payload": {"$ref": SCHEMA_REF.format(model=model.__name__)},
                    },
                    "required": ["type", "payload"],
                },
            ]
        },
        "correlationId": {
            "description": "The X-Request-ID of the HTTP request that caused the event.",
            "location": "$message.payload#/correlation_id",
        },
        "headers": {
            "type": "object",
            "properties": {
                "traceparent": {
                    "type": "string",
                    "description": "W3C trace context of the span that caused the event "
                    "(also `traceparent` in the envelope): consumers continue its trace",
                    "examples": ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
                }
            },
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": f"{what} (`payload.{field}`): the events of one key "
                    "land on one partition and are consumed in order",
                    "x-payload-field": field,
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def build_asyncapi(*, topic_prefix: str = "") -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every event type, with topics under ``topic_prefix``."""
    schemas: dict[str, Any] = {ENVELOPE: _model_schema(Envelope[Any], schemas={})}
    # Envelope[Any] is the generic envelope: each message narrows ``type`` and ``payload``
    schemas[ENVELOPE] |= {"title": ENVELOPE, "description": (Envelope.__doc__ or "").strip()}
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type, model in EVENT_TYPES.items():
        schemas[model.__name__] = _model_schema(model, schemas)
        messages[event_type] = _message(event_type)
        address = topic_name(event_type, topic_prefix)
        channels[_channel_id(event_type)] = {
            "address": address,
            "title": event_type,
            "description": f"The topic of `{event_type}` events "
            f"(`TIJORI_KAFKA_TOPIC_PREFIX` + `{event_type}`).",
            "messages": {event_type: {"$ref": f"#/components/messages/{event_type}"}},
            "bindings": {
                "kafka": {
                    "topic": address,
                    "partitions": DEFAULT_PARTITIONS,
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Tijori events",
            "version": CONTRACT_VERSION,
            "description": (
                "Events between Tijori's services over Apache Kafka. Every message is an "
                "envelope `{id, type, version, occurred_at, correlation_id, payload}` whose "
                "payload is the model of its type; unknown payload fields are refused. "
                "Producers write events to a transactional outbox and a relay publishes them "
                "(acks=all); delivery is at least once and consumers deduplicate on the "
                "envelope id. Topic names are `TIJORI_KAFKA_TOPIC_PREFIX` followed by the "
                "event type; consumer groups are the consuming service's name after the same "
                "prefix. Generated by `python -m tijori.asyncapi` from "
                "tijori.common.events; see docs/events.md."
            ),
            "license": {
                "name": "Apache-2.0",
                "url": "https://www.apache.org/licenses/LICENSE-2.0",
            },
        },
        "defaultContentType": "application/json",
        "servers": SERVERS,
        "channels": channels,
        "operations": _operations(topic_prefix),
        "components": {"messages": messages, "schemas": schemas},
    }


def _operations(topic_prefix: str) -> dict[str, Any]:
    """One ``send`` per producer and one ``receive`` per consumer of each event type."""
    operations: dict[str, Any] = {}
    for event_type in EVENT_TYPES:
        channel = _channel_id(event_type)
        message_ref = {"$ref": f"#/channels/{channel}/messages/{event_type}"}
        producer = PRODUCERS[event_type]
        operations[_operation_id(producer, "send", event_type)] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [message_ref],
            "title": f"{producer} publishes {event_type}",
            "summary": f"The {producer} service's outbox relay publishes `{event_type}`.",
            "tags": [{"name": producer}],
        }
        for consumer in CONSUMERS[event_type]:
            operations[_operation_id(consumer, "receive", event_type)] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [message_ref],
                "title": f"{consumer} consumes {event_type}",
                "summary": f"The {consumer} service applies `{event_type}` once per event id.",
                "tags": [{"name": consumer}],
                "bindings": {
                    "kafka": {
                        "groupId": {"type": "string", "enum": [f"{topic_prefix}{consumer}"]},
                        "bindingVersion": KAFKA_BINDING_VERSION,
                    }
                },
            }
    return operations


def render(document: dict[str, Any], *, fmt: str = "json") -> str:
    """``document`` as JSON (2-space indent) or YAML text."""
    if fmt == "yaml":
        try:
            # PyYAML comes with uvicorn[standard]; loaded by name: it ships no type hints
            yaml: Any = importlib.import_module("yaml")
        except ImportError as error:
            raise SystemExit(
                "YAML output needs PyYAML (pip install pyyaml); JSON does not"
            ) from error
        text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        return text
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_document(
    *, output: Path | None = None, fmt: str | None = None, topic_prefix: str = ""
) -> int:
    """Write the document to ``output`` (JSON, or YAML for .yaml/.yml) or to stdout."""
    chosen = fmt or (
        "yaml" if output is not None and output.suffix in (".yaml", ".yml") else "json"
    )
    text = render(build_asyncapi(topic_prefix=topic_prefix), fmt=chosen)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tijori.asyncapi [-o PATH] [--format json|yaml] [--topic-prefix P]``."""
    parser = argparse.ArgumentParser(
        prog="python -m tijori.asyncapi",
        description="Print or write the AsyncAPI 3.0 document of Tijori's events.",
    )
    parser.add_argument("-o", "--output", type=Path, help="write here (JSON, or YAML for .yaml)")
    parser.add_argument(
        "--format", choices=("json", "yaml"), help="default: from --output, else json"
    )
    parser.add_argument(
        "--topic-prefix", default="", help="the deployment's TIJORI_KAFKA_TOPIC_PREFIX"
    )
    args = parser.parse_args(argv)
    return write_document(output=args.output, fmt=args.format, topic_prefix=args.topic_prefix)


if __name__ == "__main__":
    sys.exit(main())
