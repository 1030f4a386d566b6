"""The AsyncAPI document describes exactly the events the code sends, and stays current."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tijori.asyncapi import (
    CONSUMERS,
    MESSAGE_KEYS,
    PRODUCERS,
    SCHEMA_REF,
    build_asyncapi,
    main,
)
from tijori.common.events import (
    EVENT_TYPES,
    Envelope,
    Party,
    TransactionCompleted,
    UserCreated,
    new_event,
)

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "asyncapi.json"
SOURCE = ROOT / "src" / "tijori"
SERVICES = ("users", "wallets", "transactions", "notifications")
COMPONENT_KEY = re.compile(r"^[\w\d.\-]+$")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_asyncapi()


def resolve(document: dict[str, Any], ref: str) -> Any:
    """Follow a local ``#/...`` JSON pointer in ``document``."""
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def every_ref(node: Any) -> list[str]:
    """Every ``$ref`` anywhere under ``node``."""
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in every_ref(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in every_ref(value)]
    return []


def as_pydantic_wrote_it(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """A payload schema of the document turned back into ``Model.model_json_schema()``'s
    shape: the definitions it refers to inlined as ``$defs``, refs to ``#/$defs/...``."""
    text = json.dumps(schema)
    names = re.findall(re.escape(SCHEMA_REF.format(model="")) + r"(\w+)", text)
    restored: dict[str, Any] = json.loads(text.replace(SCHEMA_REF.format(model=""), "#/$defs/"))
    if names:
        restored["$defs"] = {name: components[name] for name in sorted(set(names))}
    return restored


def test_every_event_type_has_a_channel_a_message_and_operations(
    document: dict[str, Any],
) -> None:
    channels = document["channels"]
    messages = document["components"]["messages"]
    assert set(channels) == set(EVENT_TYPES)
    assert set(messages) == set(EVENT_TYPES)
    for event_type in EVENT_TYPES:
        channel = channels[event_type]
        assert channel["address"] == event_type
        assert channel["bindings"]["kafka"]["topic"] == event_type
        assert resolve(document, channel["messages"][event_type]["$ref"]) is messages[event_type]
        actions = {
            (operation["action"], operation["tags"][0]["name"])
            for operation in document["operations"].values()
            if operation["channel"]["$ref"] == f"#/channels/{event_type}"
        }
        assert actions == {("send", PRODUCERS[event_type])} | {
            ("receive", name) for name in CONSUMERS[event_type]
        }


def test_every_payload_schema_is_the_models_own_json_schema(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for event_type, model in EVENT_TYPES.items():
        message = document["components"]["messages"][event_type]
        envelope, typed = message["payload"]["allOf"]
        assert envelope == {"$ref": SCHEMA_REF.format(model="Envelope")}
        assert typed["properties"]["type"] == {"const": event_type}
        payload = resolve(document, typed["properties"]["payload"]["$ref"])
        assert as_pydantic_wrote_it(payload, schemas) == model.model_json_schema()


def test_nested_models_are_shared_components_not_dangling_defs(document: dict[str, Any]) -> None:
    # TransactionCompleted nests Party: pydantic's "#/$defs/Party" would not resolve here
    assert "$defs" in TransactionCompleted.model_json_schema()
    assert "$defs" not in json.dumps(document)
    assert document["components"]["schemas"]["Party"] == Party.model_json_schema()


def test_the_envelope_schema_is_the_envelopes_and_covers_what_is_sent(
    document: dict[str, Any],
) -> None:
    schema = document["components"]["schemas"]["Envelope"]
    expected = Envelope[Any].model_json_schema() | {"title": "Envelope"}
    assert schema == expected | {"description": schema["description"]}
    sent = json.loads(
        new_event(
            UserCreated(user_id="u1", name="Asha", email="a@example.com", phone="+919876543210")
        ).model_dump_json()
    )
    assert set(sent) == set(schema["properties"])


def test_message_keys_are_payload_fields(document: dict[str, Any]) -> None:
    assert set(MESSAGE_KEYS) == set(EVENT_TYPES)
    for event_type, (_, field) in MESSAGE_KEYS.items():
        schema = EVENT_TYPES[event_type].model_json_schema()
        *parents, leaf = field.split(".")
        for parent in parents:
            schema = schema["$defs"][schema["properties"][parent]["$ref"].rsplit("/", 1)[1]]
        assert leaf in schema["properties"], f"{event_type} has no payload field {field}"
        key = document["components"]["messages"][event_type]["bindings"]["kafka"]["key"]
        assert key["type"] == "string"
        assert key["x-payload-field"] == field


def _constructed_payloads(service: str) -> set[str]:
    """Event types whose payload model ``service``'s code constructs (what it emits)."""
    names = {model.__name__: event_type for event_type, model in EVENT_TYPES.items()}
    found = set()
    for path in (SOURCE / service).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            called = node.func if isinstance(node, ast.Call) else None
            if isinstance(called, ast.Name) and called.id in names:
                found.add(names[called.id])
    return found


def _consumed_event_types(service: str) -> set[str]:
    """Keys of the ``handlers={...}`` of ``service``'s IdempotentConsumer."""
    path = SOURCE / service / "consumers.py"
    if not path.exists():
        return set()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.keyword) and node.arg == "handlers":
            assert isinstance(node.value, ast.Dict)
            found |= {
                key.value
                for key in node.value.keys
                if isinstance(key, ast.Constant) and isinstance(key.value, str)
            }
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_producers_and_consumers_are_what_the_services_code_does(service: str) -> None:
    emits = {event for event, producer in PRODUCERS.items() if producer == service}
    consumes = {event for event, consumers in CONSUMERS.items() if service in consumers}
    assert _constructed_payloads(service) == emits
    assert _consumed_event_types(service) == consumes


def test_the_document_is_structurally_asyncapi_3(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert set(document) <= {
        "asyncapi",
        "id",
        "info",
        "servers",
        "defaultContentType",
        "channels",
        "operations",
        "components",
    }
    assert document["info"]["title"] and document["info"]["version"]
    for server in document["servers"].values():
        assert server["protocol"] == "kafka" and server["host"]
    for section in ("channels", "operations"):
        assert all(COMPONENT_KEY.match(key) for key in document[section]), section
    for section in ("messages", "schemas"):
        assert all(COMPONENT_KEY.match(key) for key in document["components"][section])
    for operation_id, operation in document["operations"].items():
        assert operation["action"] in ("send", "receive"), operation_id
        channel = resolve(document, operation["channel"]["$ref"])
        for message in operation["messages"]:
            # an operation's messages are a subset of its channel's
            assert message["$ref"].startswith(operation["channel"]["$ref"] + "/messages/")
            assert resolve(document, message["$ref"]) in channel["messages"].values()
    for ref in every_ref(document):
        resolve(document, ref)  # raises KeyError when a reference dangles
    json.dumps(document)  # JSON all the way down


def test_a_topic_prefix_renames_topics_and_consumer_groups() -> None:
    document = build_asyncapi(topic_prefix="prod.")
    assert document["channels"]["user.created"]["address"] == "prod.user.created"
    group = document["operations"]["wallets.receive.user.created"]["bindings"]["kafka"]
    assert group["groupId"]["enum"] == ["prod.wallets"]


def test_the_committed_document_is_what_the_code_generates(document: dict[str, Any]) -> None:
    assert json.loads(COMMITTED.read_text()) == document, (
        "docs/asyncapi.json is stale: run `python -m tijori.asyncapi -o docs/asyncapi.json`"
    )


def test_main_writes_json_or_yaml(tmp_path: Path, document: dict[str, Any]) -> None:
    assert main(["-o", str(tmp_path / "events.json")]) == 0
    assert json.loads((tmp_path / "events.json").read_text()) == document
    assert (tmp_path / "events.json").read_text() == COMMITTED.read_text()
    assert main(["-o", str(tmp_path / "events.yaml")]) == 0
    assert yaml.safe_load((tmp_path / "events.yaml").read_text()) == document


def test_main_prints_to_stdout(
    capsys: pytest.CaptureFixture[str], document: dict[str, Any]
) -> None:
    assert main([]) == 0
    assert json.loads(capsys.readouterr().out) == document
