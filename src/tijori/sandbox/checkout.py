"""The hosted checkout page: where a customer (or a script) pays an order.

Razorpay's embedded checkout takes ``key_id``, ``order_id`` and ``callback_url`` by
GET or POST; this one shows the order and three plain forms, so ``curl`` can pay as
well as a browser, without JavaScript. Each answers 303 to the callback URL: with
``razorpay_payment_id``, ``razorpay_order_id`` and ``razorpay_signature`` when paid,
with ``error[...]`` when failed, with nothing when left pending.
"""

from __future__ import annotations

import hmac
import json
import logging
from html import escape
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tijori.common.money import format_rupees
from tijori.sandbox import operations
from tijori.sandbox.api import SettingsDep, StoreDep, SwitchesDep
from tijori.sandbox.entities import hmac_sha256_hex
from tijori.sandbox.errors import RazorpayError
from tijori.sandbox.store import Tx

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/checkout", include_in_schema=False)

# what the page's forms carry on to the action, besides the order and the callback
CARRIED = ("key_id", "order_id", "callback_url", "cancel_url", "name", "description")
PREFILL = ("prefill[email]", "prefill[contact]", "prefill[name]")

STYLE = """
body{margin:0;background:#f4f4f6;color:#1c1b22;font:16px/1.45 system-ui,sans-serif}
main{max-width:26rem;margin:2.5rem auto;padding:0 1rem}
.banner{background:#fff1cc;color:#5c3b00;border:1px solid #e8c76a;border-radius:8px;
padding:.6rem .8rem;font-weight:600;text-align:center;letter-spacing:.02em}
.card{background:#fff;border:1px solid #dcd9e5;border-radius:12px;margin-top:1rem;
padding:1.25rem 1.25rem 1rem}
h1{font-size:1.15rem;margin:0}
.muted{color:#55535f;font-size:.9rem;margin:.2rem 0 0}
.amount{font-size:2rem;font-weight:700;margin:1rem 0 .2rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.2rem .8rem;font-size:.85rem;
color:#55535f;margin:.8rem 0 1rem}
dd{margin:0;font-family:ui-monospace,monospace;word-break:break-all}
form{margin:.5rem 0}
button{width:100%;font:inherit;font-weight:600;padding:.7rem;border-radius:8px;
border:1px solid #c9c5d6;background:#fff;color:#1c1b22;cursor:pointer}
button.pay{background:#146c2e;border-color:#146c2e;color:#fff}
button.fail{color:#b3261e;border-color:#e6b3ae}
a{color:#4527a0}
.note{font-size:.8rem;color:#55535f;text-align:center;margin-top:1rem}
"""


async def checkout_fields(request: Request) -> dict[str, str]:
    """The checkout's parameters: from the query, and the form of a POST."""
    fields = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        fields |= {key: value for key, value in form.items() if isinstance(value, str)}
    return fields


FieldsDep = Annotated[dict[str, str], Depends(checkout_fields)]


class CheckoutError(Exception):
    """A checkout that cannot go on: shown as a page, answered 400."""


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    document = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        "<link rel='icon' href='data:,'>"  # no favicon request: the page is all there is
        f"<title>{escape(title)} · Test gateway</title><style>{STYLE}</style></head><body><main>"
        "<div class='banner' role='note'>TEST GATEWAY — no real money moves</div>"
        f"<div class='card'>{body}</div></main></body></html>"
    )
    return HTMLResponse(document, status_code=status)


def _error_page(message: str, *, status: int = 400) -> HTMLResponse:
    return _page(
        "Checkout error",
        f"<h1>This payment cannot go on</h1><p class='muted'>{escape(message)}</p>",
        status=status,
    )


def _callback_with(callback_url: str, params: dict[str, str]) -> str:
    parts = urlsplit(callback_url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit(parts._replace(query=query))


def _checked(fields: dict[str, str], key_id: str) -> tuple[str, str]:
    """The order id and callback URL, if the key is the merchant's and the URL is one."""
    if not hmac.compare_digest(fields.get("key_id", "").encode(), key_id.encode()):
        raise CheckoutError("The key_id is not this merchant's key.")
    callback_url = fields.get("callback_url", "")
    if urlsplit(callback_url).scheme not in ("http", "https") or not urlsplit(callback_url).netloc:
        raise CheckoutError("The callback_url must be an http or https URL.")
    order_id = fields.get("order_id", "")
    if not order_id:
        raise CheckoutError("The order_id is missing.")
    return order_id, callback_url


async def _order(tx: Tx, order_id: str) -> dict[str, Any]:
    try:
        return await operations.fetch(tx, "order", order_id)
    except RazorpayError:
        raise CheckoutError(f"There is no order {order_id}.") from None


def _hidden(fields: dict[str, str]) -> str:
    return "".join(
        f"<input type='hidden' name='{escape(key)}' value='{escape(fields[key])}'>"
        for key in (*CARRIED, *PREFILL)
        if fields.get(key)
    )


def _button(action: str, label: str, css: str, fields: dict[str, str]) -> str:
    return (
        f"<form method='post' action='/v1/checkout/embedded/{action}'>{_hidden(fields)}"
        f"<button type='submit' class='{css}'>{escape(label)}</button></form>"
    )


@router.api_route("/embedded", methods=["GET", "POST"])
async def checkout_page(fields: FieldsDep, store: StoreDep, settings: SettingsDep) -> HTMLResponse:
    """The page of an order: its amount, and Pay, Fail and Leave pending."""
    try:
        order_id, _ = _checked(fields, settings.psp_key_id)
        async with store.transaction() as tx:
            order = await _order(tx, order_id)
    except CheckoutError as error:
        return _error_page(str(error))
    merchant = fields.get("name") or "Merchant"
    amount = format_rupees(order["amount"])
    details = (
        f"<h1>{escape(merchant)}</h1>"
        f"<p class='muted'>{escape(fields.get('description') or 'Payment')}</p>"
        f"<p class='amount'>{amount}</p>"
        f"<dl><dt>Order</dt><dd>{escape(order['id'])}</dd>"
        f"<dt>Method</dt><dd>UPI (simulated)</dd></dl>"
    )
    if order["status"] == "paid":
        paid = "<p><strong>This order is already paid.</strong></p>"
        return _page("Already paid", details + paid)
    buttons = (
        _button("pay", f"Pay {amount}", "pay", fields)
        + _button("fail", "Fail the payment", "fail", fields)
        + _button("pending", "Leave it pending", "pending", fields)
    )
    cancel = fields.get("cancel_url")
    if cancel and urlsplit(cancel).scheme in ("http", "https"):
        buttons += f"<p class='note'><a href='{escape(cancel)}'>Cancel and go back</a></p>"
    note = "<p class='note'>Pay captures the payment; the merchant hears of it by webhook.</p>"
    return _page(f"Pay {merchant}", details + buttons + note)


@router.post("/embedded/{action}")
async def checkout_action(
    action: str,
    fields: FieldsDep,
    store: StoreDep,
    switches: SwitchesDep,
    settings: SettingsDep,
) -> Any:
    """Pay, fail or leave pending a payment of the order, then back to the merchant."""
    if action not in ("pay", "fail", "pending"):
        return _error_page("There is no such checkout action.")
    try:
        order_id, callback_url = _checked(fields, settings.psp_key_id)
        async with store.transaction() as tx:
            await _order(tx, order_id)
            payment, _ = await operations.start_payment(
                tx,
                order_id,
                email=fields.get("prefill[email]"),
                contact=fields.get("prefill[contact]"),
            )
            if action == "pay":
                await operations.settle(tx, switches, payment)
            elif action == "fail":
                await operations.fail(tx, switches, payment)
    except CheckoutError as error:
        return _error_page(str(error))
    except operations.OrderAlreadyPaidError:
        return _error_page(
            "This order is already paid (or a payment of it is waiting to be captured): "
            "it cannot be paid again.",
            status=409,
        )
    log.info("checkout: payment %s of order %s: %s", payment["id"], order_id, action)
    if action == "pay":
        signature = hmac_sha256_hex(settings.psp_key_secret, f"{order_id}|{payment['id']}".encode())
        params = {
            "razorpay_payment_id": payment["id"],
            "razorpay_order_id": order_id,
            "razorpay_signature": signature,
        }
    elif action == "fail":
        params = {
            "error[code]": payment["error_code"],
            "error[description]": payment["error_description"],
            "error[source]": payment["error_source"],
            "error[step]": payment["error_step"],
            "error[reason]": payment["error_reason"],
            "error[metadata]": json.dumps({"payment_id": payment["id"], "order_id": order_id}),
        }
    else:
        params = {}
    return RedirectResponse(_callback_with(callback_url, params), status_code=303)
