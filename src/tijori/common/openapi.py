"""The OpenAPI documents of the services: how each route fails, and complete examples.

Every error is ``application/problem+json`` (:class:`Problem`); each route lists the
problem codes it answers with (:func:`problems`) and :func:`document_openapi` adds what
every route shares (422 for input, 401 behind a token, 503 for a dependency outage).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from swagger_ui_bundle import swagger_ui_path

from tijori.common.errors import PROBLEM_CODES, PROBLEM_JSON

PROBLEM_SCHEMA = "Problem"
SCHEMA_REF = "#/components/schemas/"


class FieldProblem(BaseModel):
    """One invalid field of a 422 answer."""

    field: str = Field(examples=["amount"])
    code: str = Field(examples=["invalid_amount"])
    message: str = Field(examples=["the amount must be greater than zero"])


class Problem(BaseModel):
    """An error, as RFC 9457 problem details with a stable ``code``."""

    model_config = ConfigDict(extra="allow", title=PROBLEM_SCHEMA)

    type: str = Field(examples=["https://tijori.dev/problems/insufficient-funds"])
    title: str = Field(examples=["Unprocessable Entity"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["your balance of ₹12.50 does not cover ₹40.00"])
    code: str = Field(description="stable and machine-readable", examples=["insufficient_funds"])
    correlation_id: str | None = Field(
        default=None, description="the request's X-Request-ID; quote it when reporting"
    )
    errors: list[FieldProblem] | None = Field(default=None, description="422 only: each field")


def _problem_example(
    status: int, code: str, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "summary": code,
        "value": {
            "type": f"https://tijori.dev/problems/{code.replace('_', '-')}",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": PROBLEM_CODES[code],
            "code": code,
            **(extra or {}),
        },
    }


def _problem_response(
    status: int, codes: Sequence[str], extras: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    listed = "; ".join(f"`{code}`: {PROBLEM_CODES[code]}" for code in codes)
    extras = extras or {}
    return {
        "description": f"{HTTPStatus(status).phrase}. {listed}",
        "content": {
            PROBLEM_JSON: {
                "schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"},
                "examples": {
                    code: _problem_example(status, code, extras.get(code)) for code in codes
                },
            }
        },
    }


def problems(
    codes_by_status: dict[int, Sequence[str]],
    *,
    examples: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route's problems, e.g. ``problems({404: ["not_found"]})``.

    Each code must be in :data:`PROBLEM_CODES`; 422 and 503 are added to every route
    by :func:`document_openapi`. ``examples`` gives a code's example the fields this
    route's answer has besides the standard ones (and may say its ``detail``), e.g.
    ``{"insufficient_funds": {"available": "12.50"}}``.
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for status, codes in codes_by_status.items():
        unknown = [code for code in codes if code not in PROBLEM_CODES]
        if unknown:
            raise ValueError(f"undocumented problem codes: {unknown}")
        responses[status] = _problem_response(status, codes, examples)
    return responses


def document_openapi(app: FastAPI, *, auth_codes: Sequence[str] = ()) -> None:
    """Make ``app``'s OpenAPI say how it fails: every error is application/problem+json
    (``Problem``), every route with input lists its 422 codes, every route its 503, and
    every route behind a bearer token its 401."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(problem.pop("$defs", {}))
        components[PROBLEM_SCHEMA] = problem
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for component in components.values():
            if "examples" in component:
                component["examples"] = [
                    _restore_nulls(schema, component, example) for example in component["examples"]
                ]
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                _document_operation(operation, auth_codes=auth_codes)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


SWAGGER_UI = "/docs/static"


def install_swagger_ui(app: FastAPI, *, title: str) -> None:
    """Serve Swagger UI at ``/docs`` from the installed ``swagger-ui-bundle-v2`` package:
    the page works offline, and no third party's script runs beside a user's token.
    (Build the app with ``docs_url=None`` and ``redoc_url=None``: FastAPI's own pages
    load from a public CDN.)"""
    app.mount(SWAGGER_UI, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
        )


def _document_operation(operation: dict[str, Any], *, auth_codes: Sequence[str]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
    if "HTTPValidationError" in json.dumps(responses.get("422", {})):
        del responses["422"]  # FastAPI's default body, which is not what we send
    if operation.get("requestBody") and "400" not in responses:
        responses["400"] = _problem_response(400, ["bad_request"])  # a body that does not parse
    if takes_input and "422" not in responses:
        responses["422"] = _problem_response(422, ["validation_error"])
    if operation.get("requestBody"):  # every JSON body is read by tijori.common.body
        _add_problem(responses["422"], 422, "duplicate_key")
    if operation.get("security") and "401" not in responses:
        responses["401"] = _problem_response(401, list(auth_codes))
    if "operations" not in operation.get("tags", ()):
        responses.setdefault("503", _problem_response(503, ["service_unavailable"]))


def _add_problem(response: dict[str, Any], status: int, code: str) -> None:
    examples = response["content"][PROBLEM_JSON]["examples"]
    if code not in examples:
        examples[code] = _problem_example(status, code)
        response["description"] += f"; `{code}`: {PROBLEM_CODES[code]}"


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].removeprefix(SCHEMA_REF)]
    return schema


def _nullable(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = _resolve(document, schema)
    variants = schema.get("anyOf", [schema])
    return any(_resolve(document, variant).get("type") == "null" for variant in variants)


def _restore_nulls(document: dict[str, Any], schema: dict[str, Any], example: Any) -> Any:
    """``example`` with ``null`` back in each required, nullable field it lacks: FastAPI
    drops every null of the document, those of examples too (fastapi#5559)."""
    schema = _resolve(document, schema)
    if isinstance(example, list) and isinstance(schema.get("items"), dict):
        return [_restore_nulls(document, schema["items"], item) for item in example]
    if not isinstance(example, dict):
        return example
    restored = dict(example)
    for name, field in schema.get("properties", {}).items():
        if name in restored:
            restored[name] = _restore_nulls(document, field, restored[name])
        elif name in schema.get("required", []) and _nullable(document, field):
            restored[name] = None
    return restored
