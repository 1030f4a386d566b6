"""One API document for the whole of Tijori: the gateway's own routes and every service's.

Each service publishes its OpenAPI at ``/openapi.json``; the gateway serves them merged
at its own ``/openapi.json`` with Swagger UI at ``/docs``, since every ``/api/*`` path
is reached through it.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Mapping
from typing import Any

import aiohttp

SCHEMA_REF = "#/components/schemas/"


class UpstreamDocsUnavailableError(Exception):
    """A service did not hand over its OpenAPI document."""


async def fetch_service_docs(
    session: aiohttp.ClientSession, upstreams: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Every service's OpenAPI document, by service name."""

    async def fetch(service: str, base_url: str) -> dict[str, Any]:
        try:
            async with session.get(
                base_url + "/openapi.json", timeout=aiohttp.ClientTimeout(total=5)
            ) as answer:
                if answer.status != 200:
                    raise UpstreamDocsUnavailableError(f"{service}: HTTP {answer.status}")
                document: dict[str, Any] = await answer.json()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise UpstreamDocsUnavailableError(f"{service}: {type(error).__name__}") from error
        return document

    documents = await asyncio.gather(*(fetch(name, url) for name, url in upstreams.items()))
    return dict(zip(upstreams, documents, strict=True))


def _rename_schema(document: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    text = json.dumps(document).replace(f'"{SCHEMA_REF}{old}"', f'"{SCHEMA_REF}{new}"')
    renamed: dict[str, Any] = json.loads(text)
    schemas = renamed["components"]["schemas"]
    schemas[new] = schemas.pop(old)
    return renamed


def merge_documents(
    gateway: dict[str, Any], services: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    """The gateway's document with every service's ``/api/*`` operations and components.

    Schemas of the same name and shape are shared; a name two services use for different
    shapes is prefixed with the service's name.
    """
    merged = copy.deepcopy(gateway)
    components = merged.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    security = components.setdefault("securitySchemes", {})
    tags = {tag["name"]: tag for tag in merged.get("tags", [])}
    for service, original in services.items():
        document = copy.deepcopy(original)
        for name, schema in list(document.get("components", {}).get("schemas", {}).items()):
            if name in schemas and schemas[name] != schema:
                document = _rename_schema(document, name, f"{service.title()}{name}")
        theirs = document.get("components", {})
        schemas.update(theirs.get("schemas", {}))
        security.update(theirs.get("securitySchemes", {}))
        for path, item in document.get("paths", {}).items():
            if path.startswith("/api/"):
                merged["paths"][path] = item
                for operation in item.values():
                    for tag in operation.get("tags", []):
                        tags.setdefault(tag, {"name": tag, "description": f"the {service} service"})
    merged["tags"] = list(tags.values())
    if not security:
        components.pop("securitySchemes")
    return merged
