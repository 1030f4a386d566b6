"""Every request body and success response of the four APIs shows a valid example (#8)."""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from tijori.services import SERVICES
from tijori.transactions.schemas import TransactionRead, TransferRequest
from tijori.users.schemas import Credentials, UserCreate, UserUpdate

OpenAPI = dict[str, Any]
API_SERVICES = ["users", "wallets", "transactions", "notifications"]
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# values that are instances, not schemas: never look for examples inside them
INSTANCE_KEYWORDS = {"example", "examples", "default", "const", "enum"}


@functools.cache
def _build_openapi(service: str) -> OpenAPI:
    document: OpenAPI = SERVICES[service].app_factory()().openapi()
    return document


@pytest.fixture(params=API_SERVICES)
def openapi(request: pytest.FixtureRequest) -> OpenAPI:
    # a copy, so no test can change what the next one sees
    return copy.deepcopy(_build_openapi(request.param))


def _resolve(document: OpenAPI, node: dict[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref``s (``#/components/...``) until a real object."""
    while "$ref" in node:
        reference = node["$ref"]
        assert reference.startswith("#/"), f"not a local reference: {reference}"
        target: Any = document
        for part in reference[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _operations(document: OpenAPI) -> Iterator[tuple[str, dict[str, Any]]]:
    """``("POST /api/users", operation)`` for every operation of the public API."""
    for path, path_item in document["paths"].items():
        if path.startswith("/api/"):
            for method, operation in path_item.items():
                if method in HTTP_METHODS:
                    yield f"{method.upper()} {path}", operation


def _shows_an_example(document: OpenAPI, media_type: dict[str, Any]) -> bool:
    if "example" in media_type or media_type.get("examples"):
        return True
    return bool(_resolve(document, media_type.get("schema", {})).get("examples"))


def _examples_with_schemas(
    node: Any, location: str = "#"
) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """Every example in the document, where it is, and the schema it illustrates."""
    if isinstance(node, list):
        for index, child in enumerate(node):
            yield from _examples_with_schemas(child, f"{location}/{index}")
        return
    if not isinstance(node, dict):
        return
    examples = node.get("examples")
    if isinstance(examples, list):  # a JSON Schema's ``examples``
        for index, example in enumerate(examples):
            yield f"{location}/examples/{index}", example, node
    if isinstance(node.get("schema"), dict):  # a media type's ``example`` or ``examples``
        if "example" in node:
            yield f"{location}/example", node["example"], node["schema"]
        if isinstance(examples, dict):
            for name, example_object in examples.items():
                if "value" in example_object:
                    yield f"{location}/examples/{name}", example_object["value"], node["schema"]
    for key, child in node.items():
        if key not in INSTANCE_KEYWORDS:
            pointer_token = key.replace("~", "~0").replace("/", "~1")
            yield from _examples_with_schemas(child, f"{location}/{pointer_token}")


def _allows_null(document: OpenAPI, schema: dict[str, Any]) -> bool:
    schema = _resolve(document, schema)
    return schema.get("type") == "null" or any(
        _allows_null(document, choice) for choice in schema.get("anyOf", [])
    )


def _with_dropped_nulls(document: OpenAPI, schema: dict[str, Any], example: Any) -> Any:
    """``example`` with a ``None`` back in every required, nullable field it lacks.

    FastAPI drops every null of the document, the nulls of examples too (fastapi#5559), so a
    PENDING transaction's example arrives without its ``"reason": null``.
    """
    schema = _resolve(document, schema)
    if isinstance(example, list) and isinstance(schema.get("items"), dict):
        return [_with_dropped_nulls(document, schema["items"], item) for item in example]
    if not isinstance(example, dict):
        return example
    restored = dict(example)
    for name, field in schema.get("properties", {}).items():
        if name in restored:
            restored[name] = _with_dropped_nulls(document, field, restored[name])
        elif name in schema.get("required", []) and _allows_null(document, field):
            restored[name] = None
    return restored


def _schema_errors(document: OpenAPI, schema: dict[str, Any], instance: Any) -> list[str]:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    # the components ride along so that "#/components/schemas/..." resolves from the root
    wrapper = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": document.get("components", {}),
        "allOf": [schema],
    }
    validator = jsonschema_rs.Draft202012Validator(wrapper, validate_formats=True)
    return [
        f"{'/'.join(map(str, error.instance_path)) or '(root)'}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def test_every_service_has_public_operations(openapi: OpenAPI) -> None:
    assert list(_operations(openapi)), "no operation under /api/: the checks below would be empty"


def test_every_request_body_shows_an_example(openapi: OpenAPI) -> None:
    missing = [
        f"{operation_name} {content_type}"
        for operation_name, operation in _operations(openapi)
        if "requestBody" in operation
        for content_type, media_type in _resolve(openapi, operation["requestBody"])
        .get("content", {})
        .items()
        if not _shows_an_example(openapi, media_type)
    ]
    assert not missing, f"request bodies without an example: {missing}"


def test_every_success_response_shows_an_example(openapi: OpenAPI) -> None:
    missing = []
    for operation_name, operation in _operations(openapi):
        successes = {
            status: _resolve(openapi, response)
            for status, response in operation["responses"].items()
            if status.startswith("2")
        }
        assert successes, f"{operation_name} documents no success response"
        for status, response in successes.items():
            for content_type, media_type in response.get("content", {}).items():
                if not _shows_an_example(openapi, media_type):
                    missing.append(f"{operation_name} {status} {content_type}")
    assert not missing, f"success responses without an example: {missing}"


def test_every_example_matches_its_own_schema(openapi: OpenAPI) -> None:
    examples = list(_examples_with_schemas(openapi))
    assert examples, "no examples found at all"
    mismatches = {
        location: errors
        for location, example, schema in examples
        if (errors := _schema_errors(openapi, schema, example))
    }
    assert not mismatches, f"examples that contradict their schema: {mismatches}"


def test_the_openapi_keeps_the_nulls_of_examples() -> None:
    dropped = []
    for service in API_SERVICES:
        document = _build_openapi(service)
        for location, example, schema in _examples_with_schemas(document):
            if _with_dropped_nulls(document, schema, example) != example:
                dropped.append(f"{service}: {location}")
    assert not dropped, f"examples that lost a null: {dropped}"


def test_a_wrong_example_is_caught_by_the_schema_check() -> None:
    document = _build_openapi("transactions")
    right = TransactionRead.model_json_schema()["examples"][0]
    assert not _schema_errors(document, {"$ref": "#/components/schemas/TransactionRead"}, right)
    wrong = {**right, "amount": 25.5, "created_at": "yesterday"}
    wrong["sender"] = {"id": wrong["sender"]["id"]}

    errors = _schema_errors(document, {"$ref": "#/components/schemas/TransactionRead"}, wrong)

    assert len(errors) == 3, errors


@pytest.mark.parametrize("model", [UserCreate, UserUpdate, Credentials, TransferRequest])
def test_request_examples_pass_the_api_validation(model: type[BaseModel]) -> None:
    examples = model.model_json_schema()["examples"]
    assert examples
    for example in examples:
        model.model_validate(example)


def test_the_log_in_form_example_is_valid_credentials() -> None:
    request_body = _build_openapi("users")["paths"]["/api/auth/token"]["post"]["requestBody"]
    form = request_body["content"]["application/x-www-form-urlencoded"]

    for example in form["schema"]["examples"]:
        Credentials.model_validate(example)
