"""What each e-mail says."""

from __future__ import annotations

from dataclasses import dataclass

from tijori.common.events import PinLocked, TransactionCompleted, UserCreated
from tijori.common.money import format_paise


@dataclass(frozen=True)
class MailContent:
    """Subject and plain-text body of one e-mail."""

    kind: str
    subject: str
    body: str


def welcome(user: UserCreated) -> MailContent:
    """The e-mail a new user receives."""
    return MailContent(
        kind="WELCOME",
        subject="Welcome to Tijori",
        body=(
            f"Hello {user.name},\n\n"
            "Your Tijori account is ready. Your wallet opens with a promotional balance "
            "so you can send your first payment right away.\n\n"
            "Log in with your e-mail or your phone number.\n\n"
            "Team Tijori\n"
        ),
    )


def pin_locked(locked: PinLocked) -> MailContent:
    """To a user whose payments were locked by wrong PINs."""
    hours = max(locked.locked_seconds // 3600, 1)
    return MailContent(
        kind="PIN_LOCKED",
        subject="Tijori payments locked after wrong PINs",
        body=(
            f"Hello {locked.name},\n\n"
            "Your transaction PIN was entered wrongly too many times in a row, so payments "
            f"from your wallet are locked for the next {hours} hours. Money can still be "
            "received.\n\n"
            "If this was not you, change your password and your PIN as soon as the lock "
            "ends.\n\n"
            "Team Tijori\n"
        ),
    )


REASONS = {
    "insufficient_funds": "there was not enough balance in your wallet",
    "wallet_frozen": "one of the wallets is frozen",
    "wallet_not_found": "the receiver's wallet could not be found",
}


def _rupees(paise: int) -> str:
    return f"₹{format_paise(paise)}"


def _note(transaction: TransactionCompleted) -> str:
    return f"Note: {transaction.note}\n" if transaction.note else ""


def transfer_sent(transaction: TransactionCompleted) -> MailContent:
    """To the sender of a successful transfer."""
    amount = _rupees(transaction.amount_paise)
    return MailContent(
        kind="TRANSFER_SENT",
        subject=f"You sent {amount} to {transaction.receiver.name}",
        body=(
            f"Hello {transaction.sender.name},\n\n"
            f"You sent {amount} to {transaction.receiver.name}.\n"
            f"{_note(transaction)}"
            f"Transaction: {transaction.transaction_id}\n\n"
            "Team Tijori\n"
        ),
    )


def transfer_received(transaction: TransactionCompleted) -> MailContent:
    """To the receiver of a successful transfer."""
    amount = _rupees(transaction.amount_paise)
    return MailContent(
        kind="TRANSFER_RECEIVED",
        subject=f"You received {amount} from {transaction.sender.name}",
        body=(
            f"Hello {transaction.receiver.name},\n\n"
            f"{transaction.sender.name} sent you {amount}. It is in your Tijori wallet.\n"
            f"{_note(transaction)}"
            f"Transaction: {transaction.transaction_id}\n\n"
            "Team Tijori\n"
        ),
    )


def transfer_failed(transaction: TransactionCompleted) -> MailContent:
    """To the sender of a transfer that failed: no money moved, and why."""
    amount = _rupees(transaction.amount_paise)
    reason = REASONS.get(transaction.reason or "", transaction.reason or "an unknown reason")
    return MailContent(
        kind="TRANSFER_FAILED",
        subject=f"Your transfer of {amount} to {transaction.receiver.name} failed",
        body=(
            f"Hello {transaction.sender.name},\n\n"
            f"Your transfer of {amount} to {transaction.receiver.name} did not go through: "
            f"{reason} (reason: {transaction.reason}). No money left your wallet.\n"
            f"Transaction: {transaction.transaction_id}\n\n"
            "Team Tijori\n"
        ),
    )
