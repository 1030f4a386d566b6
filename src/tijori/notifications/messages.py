"""What each e-mail says."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tijori.common.events import (
    EmailCodeIssued,
    PinLocked,
    TopupCompleted,
    TransactionCompleted,
    UserCreated,
    UserKycUpdated,
    WalletFrozen,
    WalletUnfrozen,
    WithdrawalCompleted,
)
from tijori.common.money import format_rupees


@dataclass(frozen=True)
class MailContent:
    """Subject and plain-text body of one e-mail."""

    kind: str
    subject: str
    body: str


def welcome(user: UserCreated) -> MailContent:
    """The e-mail a new user receives."""
    promotion = (
        "Verify your e-mail address with the code we are sending you in a separate e-mail, "
        "and your wallet receives a promotional balance for your first payment.\n\n"
        if user.verification_required
        else "Your wallet opens with a promotional balance so you can send your first "
        "payment right away.\n\n"
    )
    return MailContent(
        kind="WELCOME",
        subject="Welcome to Tijori",
        body=(
            f"Hello {user.name},\n\n"
            f"Your Tijori account is ready. {promotion}"
            "Log in with your e-mail or your phone number.\n\n"
            "Team Tijori\n"
        ),
    )


EMAIL_CODE = "EMAIL_CODE"
_CODE = re.compile(r"\b[0-9]{6}\b")


def email_code(issued: EmailCodeIssued) -> MailContent:
    """The e-mail with a verification code: the code is its only 6-digit number (so a
    reader, or a test, can find it), and the subject does not show it in a list."""
    minutes = max(issued.expires_in_seconds // 60, 1)
    return MailContent(
        kind=EMAIL_CODE,
        subject="Your Tijori verification code",
        body=(
            f"Hello {issued.name},\n\n"
            "Enter this code in Tijori to verify your e-mail address:\n\n"
            f"    {issued.code}\n\n"
            f"It works for {minutes} minutes. Never share it: Tijori will never ask you for "
            "it on the phone.\n\n"
            "If you did not sign up for Tijori, ignore this e-mail.\n\n"
            "Team Tijori\n"
        ),
    )


def shown_message(kind: str, message: str) -> str:
    """A notification's message as the API shows it: a verification code is e-mailed
    and never shown in the app, or the app would verify the address it is there to
    prove."""
    return _CODE.sub("••••••", message) if kind == EMAIL_CODE else message


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
    "wallet_frozen": "your wallet is frozen (unfreeze it in Security to pay again)",
    "wallet_not_found": "the receiver's wallet could not be found",
    "limit_exceeded": "it would pass a limit of your wallet's KYC tier",
}
# which limit, when the reason is limit_exceeded (docs/limits.md)
LIMITS = {
    "monthly_p2p": "this month's limit on money sent to people",
    "receiver_balance_cap": "the receiver's balance limit",
    "daily_amount": "your daily limit on the value of your payments",
    "daily_count": "your daily limit on the number of your payments",
}


def _rupees(paise: int) -> str:
    return format_rupees(paise)


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
    if transaction.limit in LIMITS:
        reason = f"it would pass {LIMITS[transaction.limit]}"
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


TOPUP_REASONS = {
    "wallet_frozen": "your wallet is frozen",
    "wallet_not_found": "your wallet could not be found",
    "limit_exceeded": "it would pass a limit of your wallet",
}
# which limit, when a refunded top-up's reason is limit_exceeded (docs/limits.md)
TOPUP_LIMITS = {
    "balance_cap": "it would take your wallet above its balance limit",
    "monthly_load": "it would pass this month's limit on money added",
    "yearly_load": "it would pass this financial year's limit on money added",
    "kyc_upgrade_deadline": (
        "your wallet was not upgraded to full KYC in time, so it takes no more money"
    ),
}


def topup_completed(topup: TopupCompleted) -> MailContent:
    """To a user whose money was added, or refunded because the wallet could not take it."""
    amount = _rupees(topup.amount_paise)
    if topup.status == "CREDITED":
        return MailContent(
            kind="TOPUP_CREDITED",
            subject=f"{amount} added to your Tijori wallet",
            body=(
                f"Hello {topup.user.name},\n\n"
                f"{amount} you paid through the payment gateway is now in your wallet.\n"
                f"Top-up: {topup.topup_id}\n\n"
                "Team Tijori\n"
            ),
        )
    reason = TOPUP_REASONS.get(topup.reason or "", topup.reason or "an unknown reason")
    # a payments not yet upgraded (payments migration 0003) sends the limit as the reason
    limit = topup.limit if topup.reason == "limit_exceeded" else topup.reason
    if limit in TOPUP_LIMITS:
        reason = TOPUP_LIMITS[limit]
    return MailContent(
        kind="TOPUP_REFUNDED",
        subject=f"Your payment of {amount} was refunded",
        body=(
            f"Hello {topup.user.name},\n\n"
            f"We could not add {amount} to your wallet: {reason} (reason: {topup.reason}). "
            "The payment was refunded to where it came from; banks take 5-7 working days "
            "to show it.\n"
            f"Top-up: {topup.topup_id}\n\n"
            "Team Tijori\n"
        ),
    )


WITHDRAWAL_REASONS = {
    "insufficient_funds": "your available balance did not cover it",
    "wallet_frozen": "your wallet is frozen",
    "hold_expired": "the bank did not confirm it in time",
    "gateway_unavailable": "the payment gateway could not be reached",
    "payout_refused": "the payment gateway refused the payout",
    "kyc_required": "withdrawing to a bank needs a full-KYC wallet",
    "limit_exceeded": "it would pass a limit of your wallet",
}


def withdrawal_completed(withdrawal: WithdrawalCompleted) -> MailContent:
    """To a user whose withdrawal was sent, failed (money back), or came back reversed."""
    amount = _rupees(withdrawal.amount_paise)
    account = f"the bank account ending {withdrawal.account_last4}"
    if withdrawal.status == "PROCESSED":
        return MailContent(
            kind="WITHDRAWAL_SENT",
            subject=f"{amount} sent to your bank account",
            body=(
                f"Hello {withdrawal.user.name},\n\n"
                f"{amount} left your Tijori wallet for {account}.\n"
                f"Withdrawal: {withdrawal.withdrawal_id}\n\n"
                "Team Tijori\n"
            ),
        )
    if withdrawal.status == "REVERSED":
        return MailContent(
            kind="WITHDRAWAL_REVERSED",
            subject=f"Your withdrawal of {amount} came back",
            body=(
                f"Hello {withdrawal.user.name},\n\n"
                f"The bank returned the {amount} sent to {account}; it is back in your "
                "wallet.\n"
                f"Withdrawal: {withdrawal.withdrawal_id}\n\n"
                "Team Tijori\n"
            ),
        )
    reason = WITHDRAWAL_REASONS.get(
        withdrawal.reason or "", withdrawal.reason or "an unknown reason"
    )
    if withdrawal.limit in LIMITS:
        reason = f"it would pass {LIMITS[withdrawal.limit]}"
    return MailContent(
        kind="WITHDRAWAL_FAILED",
        subject=f"Your withdrawal of {amount} failed",
        body=(
            f"Hello {withdrawal.user.name},\n\n"
            f"Your withdrawal of {amount} to {account} did not go through: {reason} "
            f"(reason: {withdrawal.reason}). The money is available in your wallet again.\n"
            f"Withdrawal: {withdrawal.withdrawal_id}\n\n"
            "Team Tijori\n"
        ),
    )


def wallet_frozen(frozen: WalletFrozen) -> MailContent:
    """To the owner of a wallet just frozen, by themselves or by Tijori's team."""
    if frozen.by == "ADMIN":
        why = f"Tijori's team froze your wallet. The reason given: {frozen.reason}.\n\n"
        lift = "Only Tijori's team can unfreeze it: reply to this e-mail to ask.\n\n"
    else:
        why = "You froze your Tijori wallet.\n\n"
        lift = (
            "To unfreeze it, open Security in Tijori and confirm with your password and "
            "your transaction PIN. If you did not freeze it, change your password.\n\n"
        )
    return MailContent(
        kind="WALLET_FROZEN",
        subject="Your Tijori wallet is frozen",
        body=(
            "Hello,\n\n"
            f"{why}"
            "While it is frozen no money can leave it: payments and withdrawals are "
            "refused. Money sent to you still arrives.\n\n"
            f"{lift}"
            "Team Tijori\n"
        ),
    )


def wallet_unfrozen(unfrozen: WalletUnfrozen) -> MailContent:
    """To the owner of a wallet just unfrozen."""
    if unfrozen.by == "ADMIN":
        who = f"Tijori's team unfroze your wallet. The reason given: {unfrozen.reason}.\n\n"
    else:
        who = (
            "Your Tijori wallet was unfrozen with your password and transaction PIN. If "
            "this was not you, freeze it again at once and change your password.\n\n"
        )
    return MailContent(
        kind="WALLET_UNFROZEN",
        subject="Your Tijori wallet is unfrozen",
        body=f"Hello,\n\n{who}You can send money from it again.\n\nTeam Tijori\n",
    )


KYC_REASONS = {
    "pan_not_found": "the PAN was not found",
    "name_mismatch": "the name does not match the PAN's",
}


def kyc_updated(update: UserKycUpdated) -> MailContent:
    """To a user whose KYC check ended: verified (full-KYC limits) or rejected."""
    name = update.name or "there"
    if update.kyc == "FULL":
        return MailContent(
            kind="KYC_VERIFIED",
            subject="Your Tijori wallet is now a full-KYC wallet",
            body=(
                f"Hello {name},\n\n"
                f"Your PAN ({update.pan_masked or 'on file'}) is verified. Your wallet now "
                "has the full-KYC limits: a higher balance limit, and withdrawals to your "
                "bank account. Limits in Tijori shows them.\n\n"
                "Team Tijori\n"
            ),
        )
    reason = KYC_REASONS.get(update.reason or "", update.reason or "the check did not pass")
    return MailContent(
        kind="KYC_REJECTED",
        subject="Your Tijori KYC check did not pass",
        body=(
            f"Hello {name},\n\n"
            f"We could not verify your PAN: {reason} (reason: {update.reason}). Your "
            "wallet stays a minimum-detail wallet with its limits. Check the details and "
            "try again under Limits in Tijori.\n\n"
            "Team Tijori\n"
        ),
    )
