"""The test switches: how webhooks misbehave, whether the gateway is down, how the next
payouts end. They live in memory: a restarted sandbox starts with every switch off.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class WebhookBehaviour(BaseModel):
    """How the events from now on are delivered (every field off by default)."""

    model_config = ConfigDict(extra="forbid")

    duplicate: int = Field(
        1, ge=1, le=10, description="deliver each event this many times, with the same event id"
    )
    delay_seconds: float = Field(
        0, ge=0, le=3600, description="deliver each event only this long after it happened"
    )
    reorder: int = Field(
        0,
        ge=0,
        le=100,
        description="hold back events until this many are held, then deliver them newest "
        "first (0: in order)",
    )
    drop: int = Field(
        0, ge=0, le=1000, description="lose the next this many events: never delivered"
    )


class PayoutOutcome(StrEnum):
    """How a payout ends: the states Razorpay documents past ``processing``."""

    PROCESSED = "processed"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    # processed first, then reversed: the bank sent the money back
    REVERSED = "reversed"


@dataclass
class Switches:
    """The sandbox's current switches."""

    webhooks: WebhookBehaviour = field(default_factory=WebhookBehaviour)
    # unix seconds the gateway is down until; infinity: until switched back
    down_until: float | None = None
    payout_outcomes: deque[PayoutOutcome] = field(default_factory=deque)

    def is_down(self) -> bool:
        """Whether the API and webhook deliveries are switched off now."""
        return self.down_until is not None and time.time() < self.down_until

    def take_drop(self) -> bool:
        """Whether the event happening now is to be lost (and one fewer is, after it)."""
        if self.webhooks.drop <= 0:
            return False
        self.webhooks.drop -= 1
        return True

    def next_payout_outcome(self) -> PayoutOutcome:
        """How the payout made now ends: the first outcome queued, else processed."""
        return self.payout_outcomes.popleft() if self.payout_outcomes else PayoutOutcome.PROCESSED

    def reset(self) -> None:
        """Every switch off: webhooks delivered once and at once, up, payouts processed."""
        self.webhooks = WebhookBehaviour()
        self.down_until = None
        self.payout_outcomes.clear()
