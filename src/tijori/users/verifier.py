"""The KYC verifier behind an adapter, and its sandbox.

A real verifier (a PAN verification service) is asked in two steps, as the payment
gateway is: :meth:`KycVerifier.submit` hands it the PAN, the name and the date of birth
during the request and gets back a reference; :meth:`KycVerifier.decision` is asked
later, outside any request, by the KYC loop (users/kyc.py) until it has decided. Tijori
itself never keeps the PAN: only its masked form and the reference.

The sandbox decides predictably (docs/limits.md, "The sandbox KYC check"): a PAN whose
four digits are ``0000`` (``ABCDE0000F``) is rejected as ``pan_not_found``, a PAN whose
four digits are ``9999`` as ``name_mismatch``; every other well-formed PAN is verified.
It decides ``kyc_sandbox_seconds`` after the submission, and keeps its decision in the
reference it gives out, so any process of the users service can read it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Protocol

SANDBOX_PREFIX = "kyc_sbx"
# the four digits that make the sandbox refuse, and why
SANDBOX_REFUSALS = {"0000": "pan_not_found", "9999": "name_mismatch"}


@dataclass(frozen=True)
class KycSubmission:
    """What the verifier checks: a PAN, the name on it and the holder's date of birth."""

    pan: str
    name: str
    date_of_birth: date

    def __repr__(self) -> str:  # never the PAN in a log or a traceback
        return f"KycSubmission(pan={mask_pan(self.pan)!r})"


@dataclass(frozen=True)
class KycDecision:
    """The verifier's verdict: verified, or not and why (a stable code)."""

    verified: bool
    reason: str | None = None


class KycVerifierUnavailableError(RuntimeError):
    """The verifier did not answer; nothing was submitted."""


class KycVerifier(Protocol):
    """A KYC check behind an adapter: submit now, ask for the decision later."""

    async def submit(self, submission: KycSubmission) -> str:
        """Hand the details to the verifier; the reference to ask about later."""
        ...

    async def decision(self, reference: str) -> KycDecision | None:
        """The verdict on ``reference``, or None while the verifier is still checking."""
        ...


def mask_pan(pan: str) -> str:
    """The PAN as Tijori keeps and shows it: all but its last four characters hidden."""
    return "X" * max(len(pan) - 4, 0) + pan[-4:]


class SandboxKycVerifier:
    """A verifier that decides by the PAN's digits, ``seconds`` after the submission."""

    def __init__(self, *, seconds: float = 1.0) -> None:
        self.seconds = seconds

    async def submit(self, submission: KycSubmission) -> str:
        """A reference carrying the decision and when it is due (never the PAN)."""
        refusal = SANDBOX_REFUSALS.get(submission.pan[5:9])
        due_ms = int((time.time() + self.seconds) * 1000)
        return f"{SANDBOX_PREFIX}_{refusal or 'verified'}_{due_ms}_{uuid.uuid4().hex[:12]}"

    async def decision(self, reference: str) -> KycDecision | None:
        """The decision the reference carries, once it is due."""
        prefix, _, rest = reference.partition("_sbx_")
        verdict, due_ms, _ = rest.rsplit("_", 2)
        if prefix != SANDBOX_PREFIX.removesuffix("_sbx") or not due_ms.isdigit():
            return KycDecision(verified=False, reason="unknown_reference")
        if time.time() * 1000 < int(due_ms):
            return None
        if verdict == "verified":
            return KycDecision(verified=True)
        return KycDecision(verified=False, reason=verdict)
