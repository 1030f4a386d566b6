"""Double entry: every movement of money is a balanced pair of ledger entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tijori.common.clock import utcnow
from tijori.wallets.models import Wallet


class LedgerError(ValueError):
    """A movement that the ledger refuses to build or post."""


@dataclass(frozen=True)
class Posting:
    """One side of a movement: a new row of ``ledger_entries`` (its columns, but the id)."""

    wallet_id: str
    counterparty_wallet_id: str
    reference: str
    kind: str
    amount_paise: int  # credit > 0, debit < 0
    balance_after_paise: int
    created_at: datetime


@dataclass(frozen=True)
class LedgerPair:
    """The debit and the credit of one movement; their amounts sum to zero."""

    debit: Posting
    credit: Posting

    @classmethod
    def move(
        cls, *, source: Wallet, destination: Wallet, paise: int, reference: str, kind: str
    ) -> LedgerPair:
        """The entries that move ``paise`` from ``source`` to ``destination``, with the
        balances they leave; the wallets themselves change when the pair is posted
        (:meth:`WalletRepository.post`).

        The caller holds both wallet rows locked and has checked that ``source`` may pay.
        """
        if paise <= 0:
            raise LedgerError("a movement moves a positive amount")
        if source.id == destination.id:
            raise LedgerError("a movement needs two different wallets")
        now = utcnow()
        debit = Posting(
            wallet_id=source.id,
            counterparty_wallet_id=destination.id,
            reference=reference,
            kind=kind,
            amount_paise=-paise,
            balance_after_paise=source.balance_paise - paise,
            created_at=now,
        )
        credit = Posting(
            wallet_id=destination.id,
            counterparty_wallet_id=source.id,
            reference=reference,
            kind=kind,
            amount_paise=paise,
            balance_after_paise=destination.balance_paise + paise,
            created_at=now,
        )
        return cls(debit=debit, credit=credit)

    @property
    def entries(self) -> tuple[Posting, Posting]:
        """Both entries, debit first."""
        return (self.debit, self.credit)
