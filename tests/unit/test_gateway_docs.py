"""The gateway's combined API document."""

from __future__ import annotations

from typing import Any

from tijori.gateway.docs import merge_documents


def _document(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {}, "paths": paths, "components": {"schemas": schemas}}


def _operation(tag: str, ref: str) -> dict[str, Any]:
    return {
        "get": {
            "tags": [tag],
            "responses": {"200": {"content": {"application/json": {"schema": {"$ref": ref}}}}},
        }
    }


def test_every_service_api_path_is_in_the_combined_document_and_health_is_the_gateways() -> None:
    gateway = _document({"/health": {"get": {}}}, {})
    users = _document(
        {
            "/health": {"get": {"x": "users"}},
            "/api/users/me": _operation("users", "#/components/schemas/User"),
        },
        {"User": {"type": "object"}},
    )
    merged = merge_documents(gateway, {"users": users})
    assert set(merged["paths"]) == {"/health", "/api/users/me"}
    assert merged["paths"]["/health"] == {"get": {}}
    assert merged["components"]["schemas"]["User"] == {"type": "object"}
    assert [tag["name"] for tag in merged["tags"]] == ["users"]


def test_a_schema_name_two_services_use_differently_is_kept_apart() -> None:
    page = "#/components/schemas/Page"
    wallets = _document({"/api/wallets/me": _operation("wallets", page)}, {"Page": {"title": "w"}})
    notes = _document(
        {"/api/notifications": _operation("notifications", page)}, {"Page": {"title": "n"}}
    )
    same = _document(
        {"/api/transactions": _operation("transactions", page)}, {"Page": {"title": "w"}}
    )
    merged = merge_documents(
        _document({}, {}), {"wallets": wallets, "notifications": notes, "transactions": same}
    )
    schemas = merged["components"]["schemas"]
    assert schemas["Page"] == {"title": "w"}
    assert schemas["NotificationsPage"] == {"title": "n"}
    ref = merged["paths"]["/api/notifications"]["get"]["responses"]["200"]["content"]
    assert ref["application/json"]["schema"]["$ref"] == "#/components/schemas/NotificationsPage"
    assert "NotificationsPage" not in str(merged["paths"]["/api/transactions"])
