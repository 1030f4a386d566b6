"""Razorpay's entities as the API shows them: ids, field names, amounts in paise.

Each builder returns the JSON object Razorpay documents for the entity (the fields
Tijori reads and the ones a reader would look for), with ``created_at`` in unix
seconds and ids of a prefix and 14 random letters and digits (``order_EKwxwAgItmmXdp``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time
from typing import Any

ALPHABET = string.ascii_letters + string.digits

# the one merchant account of the sandbox, as it appears in every webhook
ACCOUNT_ID = "acc_Sandbox0Tijori"

Notes = dict[str, Any]


def new_id(prefix: str) -> str:
    """A fresh Razorpay-style id: ``pay_`` and 14 random letters and digits."""
    return prefix + "_" + "".join(secrets.choice(ALPHABET) for _ in range(14))


def now() -> int:
    """Unix seconds, as every ``created_at``."""
    return int(time.time())


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    """Hex HMAC-SHA256: how Razorpay signs checkout results and webhook bodies.

    The payments adapter has its own copy on purpose: the sandbox must not import
    Tijori's code, and two copies checked against one test vector keep each other honest.
    """
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def order(*, amount: int, currency: str, receipt: str | None, notes: Notes) -> dict[str, Any]:
    """A new order, ``created``."""
    return {
        "id": new_id("order"),
        "entity": "order",
        "amount": amount,
        "amount_paid": 0,
        "amount_due": amount,
        "currency": currency,
        "receipt": receipt,
        "offer_id": None,
        "status": "created",
        "attempts": 0,
        "notes": notes,
        "created_at": now(),
    }


def payment(*, order: dict[str, Any], email: str | None, contact: str | None) -> dict[str, Any]:
    """A new UPI payment for the whole of an order, ``created``."""
    return {
        "id": new_id("pay"),
        "entity": "payment",
        "amount": order["amount"],
        "currency": order["currency"],
        "status": "created",
        "order_id": order["id"],
        "invoice_id": None,
        "international": False,
        "method": "upi",
        "amount_refunded": 0,
        "refund_status": None,
        "captured": False,
        "description": None,
        "vpa": "success@razorpay",
        "email": email,
        "contact": contact,
        "notes": order["notes"],
        "fee": None,
        "tax": None,
        "error_code": None,
        "error_description": None,
        "error_source": None,
        "error_step": None,
        "error_reason": None,
        "created_at": now(),
    }


def refund(
    *, payment: dict[str, Any], amount: int, receipt: str | None, notes: Notes, speed: str
) -> dict[str, Any]:
    """A refund, ``processed`` at once (the sandbox's bank is quick)."""
    return {
        "id": new_id("rfnd"),
        "entity": "refund",
        "amount": amount,
        "currency": payment["currency"],
        "payment_id": payment["id"],
        "notes": notes,
        "receipt": receipt,
        "acquirer_data": {"arn": None},
        "status": "processed",
        "speed_requested": speed,
        "speed_processed": "normal",
        "batch_id": None,
        "created_at": now(),
    }


def fund_account(*, bank_account: dict[str, str], contact: dict[str, Any]) -> dict[str, Any]:
    """A bank fund account and its contact, as the composite payout API makes them."""
    return {
        "id": new_id("fa"),
        "entity": "fund_account",
        "contact_id": new_id("cont"),
        "account_type": "bank_account",
        "bank_account": {**bank_account, "bank_name": "Sandbox Bank", "notes": []},
        "contact": {"entity": "contact", **contact},
        "active": True,
        "created_at": now(),
    }


def payout(
    *,
    fund_account_id: str,
    amount: int,
    currency: str,
    mode: str,
    purpose: str,
    reference_id: str | None,
    narration: str | None,
    notes: Notes,
    status: str,
) -> dict[str, Any]:
    """A new payout in its first state."""
    return {
        "id": new_id("pout"),
        "entity": "payout",
        "fund_account_id": fund_account_id,
        "amount": amount,
        "currency": currency,
        "notes": notes,
        "fees": 0,
        "tax": 0,
        "status": status,
        "purpose": purpose,
        "utr": None,
        "mode": mode,
        "reference_id": reference_id,
        "narration": narration,
        "batch_id": None,
        "failure_reason": None,
        "status_details": {"reason": None, "description": None, "source": None},
        "created_at": now(),
    }


def new_utr() -> str:
    """A bank reference number for a processed payout (12 digits, as IMPS's)."""
    return "".join(secrets.choice(string.digits) for _ in range(12))
