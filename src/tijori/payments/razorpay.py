"""Razorpay's REST API as the payments service uses it: orders, payments, refunds, payouts.

The one client works against the real gateway (``https://api.razorpay.com``, set in
the payments settings, never here) and against ``tijori serve sandbox`` alike: the
paths, fields and errors are Razorpay's documented ones (docs/sandbox.md). Amounts are
integer paise. What went wrong is one of two errors, because the caller must act
differently on each:

- :class:`GatewayUnavailableError`: no answer, a timeout, a 5xx or a 429. The request
  may or may not have happened; retry it with the same idempotency key (a payout) or
  find out first (``order_payments``, ``payment_refunds``, ``payouts_by_reference``).
- :class:`GatewayRefusedError`: a 4xx with Razorpay's error body. The request did not
  happen and will not if repeated as it is.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from tijori.common.metrics import GATEWAY_CALLS

PAGE = 100
"""The most a Razorpay list answers with at once."""


class GatewayUnavailableError(Exception):
    """A connect error, timeout, 5xx or 429: the request may or may not have happened;
    retry with the same idempotency key."""


class GatewayRefusedError(Exception):
    """A 4xx with Razorpay's error body: the request was refused and did not happen."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        description: str,
        field: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status = status
        self.code = code
        self.description = description
        self.field = field
        self.reason = reason


# an entity's id in a path (order_…, pay_…, rfnd_…, pout_…): one label per route
_ID_SEGMENT = re.compile(r"/[a-z]+_[A-Za-z0-9]+")


@dataclass(frozen=True)
class Order:
    """An order at the gateway."""

    id: str
    amount_paise: int
    currency: str
    status: str  # created, attempted, paid
    receipt: str | None
    amount_paid_paise: int


@dataclass(frozen=True)
class Payment:
    """A payment attempt on an order; the money is the merchant's once ``captured``."""

    id: str
    order_id: str | None
    amount_paise: int
    status: str  # created, authorized, captured, refunded, failed
    captured: bool
    amount_refunded_paise: int
    error_code: str | None
    error_description: str | None
    created_at: int


@dataclass(frozen=True)
class Refund:
    """A refund of (part of) a captured payment."""

    id: str
    payment_id: str
    amount_paise: int
    status: str  # pending, processed, failed
    receipt: str | None
    created_at: int


@dataclass(frozen=True)
class Payout:
    """A payout from the business account to a bank account."""

    id: str
    amount_paise: int
    # queued, pending, processing, processed, cancelled, rejected, failed, reversed
    status: str
    reference_id: str | None
    failure_reason: str | None
    utr: str | None
    created_at: int


@dataclass(frozen=True)
class BankAccount:
    """Where a payout goes: the account holder's name, the IFSC and the account number."""

    name: str
    ifsc: str
    account_number: str


def _field(body: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(name)
    # bool is an int in Python: an amount of ``true`` is still not an amount
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise GatewayUnavailableError(
            f"the gateway answered a malformed {body.get('entity', 'entity')}: {name} is {value!r}"
        )
    return value


def _optional_str(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) and value else None


def _order(body: Mapping[str, Any]) -> Order:
    return Order(
        id=_field(body, "id", str),
        amount_paise=_field(body, "amount", int),
        currency=_field(body, "currency", str),
        status=_field(body, "status", str),
        receipt=_optional_str(body, "receipt"),
        amount_paid_paise=_field(body, "amount_paid", int),
    )


def _payment(body: Mapping[str, Any]) -> Payment:
    return Payment(
        id=_field(body, "id", str),
        order_id=_optional_str(body, "order_id"),
        amount_paise=_field(body, "amount", int),
        status=_field(body, "status", str),
        captured=bool(_field(body, "captured", bool)),
        amount_refunded_paise=_field(body, "amount_refunded", int),
        error_code=_optional_str(body, "error_code"),
        error_description=_optional_str(body, "error_description"),
        created_at=_field(body, "created_at", int),
    )


def _refund(body: Mapping[str, Any]) -> Refund:
    return Refund(
        id=_field(body, "id", str),
        payment_id=_field(body, "payment_id", str),
        amount_paise=_field(body, "amount", int),
        status=_field(body, "status", str),
        receipt=_optional_str(body, "receipt"),
        created_at=_field(body, "created_at", int),
    )


def payout_of(body: Mapping[str, Any]) -> Payout:
    """A payout entity as the API and the webhooks give it; GatewayUnavailableError if
    it is malformed."""
    return Payout(
        id=_field(body, "id", str),
        amount_paise=_field(body, "amount", int),
        status=_field(body, "status", str),
        reference_id=_optional_str(body, "reference_id"),
        failure_reason=_optional_str(body, "failure_reason"),
        utr=_optional_str(body, "utr"),
        created_at=_field(body, "created_at", int),
    )


def _items(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = body.get("items")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise GatewayUnavailableError("the gateway answered a malformed collection")
    return items


def _refusal(answer: httpx.Response) -> GatewayRefusedError:
    try:
        error = answer.json()["error"]
        code, description = str(error["code"]), str(error["description"])
        field, reason = error.get("field"), error.get("reason")
    except (ValueError, KeyError, TypeError):
        return GatewayRefusedError(
            status=answer.status_code, code="UNKNOWN", description=answer.text[:200]
        )
    return GatewayRefusedError(
        status=answer.status_code,
        code=code,
        description=description,
        field=field if isinstance(field, str) else None,
        reason=reason if isinstance(reason, str) else None,
    )


class RazorpayClient:
    """An async client of Razorpay's API for one merchant (its key, its payout account)."""

    def __init__(
        self,
        *,
        base_url: str,
        key_id: str,
        key_secret: str,
        payout_account_number: str,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key_id = key_id
        self.payout_account_number = payout_account_number
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=(key_id, key_secret),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        calls = functools.partial(
            GATEWAY_CALLS.labels, operation=f"{method} {_ID_SEGMENT.sub('/{id}', path)}"
        )
        try:
            answer = await self._http.request(
                method, path, json=json, params=params, headers=headers
            )
        except httpx.HTTPError as error:  # connect, read, write and pool errors, timeouts
            calls(outcome="unavailable").inc()
            raise GatewayUnavailableError(
                f"{method} {path}: {type(error).__name__} {error}".rstrip()
            ) from error
        if answer.status_code == 429 or answer.status_code >= 500:
            calls(outcome="unavailable").inc()
            raise GatewayUnavailableError(f"{method} {path}: answered {answer.status_code}")
        if answer.status_code >= 400:
            calls(outcome="refused").inc()
            raise _refusal(answer)
        try:
            body = answer.json()
        except ValueError:
            body = None
        if answer.status_code != 200 or not isinstance(body, dict):
            calls(outcome="unavailable").inc()
            raise GatewayUnavailableError(
                f"{method} {path}: answered {answer.status_code} without a JSON object"
            )
        calls(outcome="ok").inc()
        return body

    # orders and payments

    async def create_order(
        self, *, amount_paise: int, receipt: str, notes: dict[str, str]
    ) -> Order:
        """A new order for this many paise; ``receipt`` is the caller's own id for it."""
        body = {"amount": amount_paise, "currency": "INR", "receipt": receipt, "notes": notes}
        return _order(await self._call("POST", "/v1/orders", json=body))

    async def fetch_order(self, order_id: str) -> Order:
        """An order as the gateway has it now."""
        return _order(await self._call("GET", f"/v1/orders/{order_id}"))

    async def order_payments(self, order_id: str) -> list[Payment]:
        """Every payment attempt on an order: how a lost webhook is made up for."""
        body = await self._call("GET", f"/v1/orders/{order_id}/payments")
        return [_payment(item) for item in _items(body)]

    async def fetch_payment(self, payment_id: str) -> Payment:
        """A payment as the gateway has it now."""
        return _payment(await self._call("GET", f"/v1/payments/{payment_id}"))

    async def refund(
        self, payment_id: str, *, amount_paise: int, receipt: str, notes: dict[str, str]
    ) -> Refund:
        """Refund this much of a captured payment; ``receipt`` is the caller's id for it
        (Razorpay keeps no idempotency key for refunds: look in ``payment_refunds``
        for the receipt before trying again)."""
        body = {"amount": amount_paise, "receipt": receipt, "notes": notes, "speed": "normal"}
        return _refund(await self._call("POST", f"/v1/payments/{payment_id}/refund", json=body))

    async def payment_refunds(self, payment_id: str) -> list[Refund]:
        """Every refund of a payment."""
        body = await self._call("GET", f"/v1/payments/{payment_id}/refunds")
        return [_refund(item) for item in _items(body)]

    # payouts

    async def create_payout(
        self,
        *,
        idempotency_key: str,
        amount_paise: int,
        account: BankAccount,
        reference_id: str,
        narration: str,
        notes: dict[str, str],
    ) -> Payout:
        """A payout by IMPS to a bank account (RazorpayX's composite payout).

        Retry with the same ``idempotency_key`` (4-36 letters, digits, ``-``, ``_``) and
        the same arguments: Razorpay answers with the payout it made the first time.
        """
        body = {
            "account_number": self.payout_account_number,
            "amount": amount_paise,
            "currency": "INR",
            "mode": "IMPS",
            "purpose": "payout",
            "fund_account": {
                "account_type": "bank_account",
                "bank_account": {
                    "name": account.name,
                    "ifsc": account.ifsc,
                    "account_number": account.account_number,
                },
                # a contact's name is at most 50 characters, a bank account holder's 120
                "contact": {"name": account.name[:50], "type": "customer"},
            },
            "queue_if_low_balance": True,
            "reference_id": reference_id,
            "narration": narration,
            "notes": notes,
        }
        headers = {"X-Payout-Idempotency": idempotency_key}
        return payout_of(await self._call("POST", "/v1/payouts", json=body, headers=headers))

    async def fetch_payout(self, payout_id: str) -> Payout:
        """A payout as the gateway has it now."""
        return payout_of(await self._call("GET", f"/v1/payouts/{payout_id}"))

    async def payouts_by_reference(self, reference_id: str) -> list[Payout]:
        """The payouts made with this ``reference_id``: did a payout whose answer was
        lost happen?"""
        params = {"account_number": self.payout_account_number, "reference_id": reference_id}
        body = await self._call("GET", "/v1/payouts", params={**params, "count": PAGE})
        return [payout_of(item) for item in _items(body)]

    # lists, for reconciliation

    async def _pages(self, path: str, params: dict[str, Any]) -> AsyncIterator[Mapping[str, Any]]:
        """Every item of a list, page after page of ``PAGE`` (newest first, as Razorpay
        lists; an item made while paging can push one already seen onto the next page,
        so a caller keys what it reads by id)."""
        skip = 0
        while True:
            body = await self._call("GET", path, params={**params, "count": PAGE, "skip": skip})
            items = _items(body)
            for item in items:
                yield item
            if len(items) < PAGE:
                return
            skip += len(items)

    async def payments(self, *, since: int | None = None) -> AsyncIterator[Payment]:
        """Every payment (made at or after ``since``, unix seconds)."""
        params = {} if since is None else {"from": since}
        async for item in self._pages("/v1/payments", params):
            yield _payment(item)

    async def refunds(self, *, since: int | None = None) -> AsyncIterator[Refund]:
        """Every refund (made at or after ``since``, unix seconds)."""
        params = {} if since is None else {"from": since}
        async for item in self._pages("/v1/refunds", params):
            yield _refund(item)

    async def payouts(self, *, since: int | None = None) -> AsyncIterator[Payout]:
        """Every payout from the business account (made at or after ``since``)."""
        params: dict[str, Any] = {"account_number": self.payout_account_number}
        if since is not None:
            params["from"] = since
        async for item in self._pages("/v1/payouts", params):
            yield payout_of(item)

    def checkout_url(self, *, order_id: str, callback_url: str, name: str, description: str) -> str:
        """Where to send the customer to pay an order: the gateway's hosted checkout.

        After paying it sends them to ``callback_url`` with ``razorpay_payment_id``,
        ``razorpay_order_id`` and ``razorpay_signature`` (check it with
        :func:`checkout_signature_valid` against the order id stored, never the one
        the browser sent), or with ``error[...]`` fields when the payment failed.
        """
        query = {
            "key_id": self.key_id,
            "order_id": order_id,
            "callback_url": callback_url,
            "name": name,
            "description": description,
        }
        return f"{self.base_url}/v1/checkout/embedded?{urlencode(query)}"

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()


def _hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def checkout_signature_valid(
    *, order_id: str, payment_id: str, signature: str, key_secret: str
) -> bool:
    """Whether the checkout's ``razorpay_signature`` is HMAC-SHA256(key secret,
    ``order_id|payment_id``): the payment is of this order, as the gateway says."""
    expected = _hmac_sha256_hex(key_secret, f"{order_id}|{payment_id}".encode())
    # bytes: compare_digest refuses a str that is not ASCII, and a signature may be anything
    return hmac.compare_digest(expected.encode(), signature.encode())


def webhook_signature(body: bytes, webhook_secret: str) -> str:
    """``X-Razorpay-Signature`` of a webhook body: hex HMAC-SHA256 of the raw bytes."""
    return _hmac_sha256_hex(webhook_secret, body)


def webhook_signature_valid(*, body: bytes, signature: str | None, webhook_secret: str) -> bool:
    """Whether a webhook's ``X-Razorpay-Signature`` signs these exact body bytes (check
    it before parsing the body)."""
    if not signature:
        return False
    return hmac.compare_digest(webhook_signature(body, webhook_secret).encode(), signature.encode())
