"""Double entry: a movement is one balanced pair of entries."""

from __future__ import annotations

import pytest

from tijori.wallets.ledger import LedgerError, LedgerPair
from tijori.wallets.models import Wallet


def _wallet(wallet_id: str, balance: int) -> Wallet:
    return Wallet(
        id=wallet_id, user_id=wallet_id, balance_paise=balance, version=0, status="ACTIVE"
    )


def test_a_movement_debits_one_wallet_and_credits_the_other_by_the_same_paise() -> None:
    source, destination = _wallet("a", 10_000), _wallet("b", 500)
    pair = LedgerPair.move(
        source=source, destination=destination, paise=2550, reference="t1", kind="TRANSFER"
    )
    # the wallets change when the pair is posted, through their repository
    assert (source.balance_paise, destination.balance_paise) == (10_000, 500)
    assert pair.debit.amount_paise + pair.credit.amount_paise == 0
    assert (pair.debit.wallet_id, pair.debit.counterparty_wallet_id) == ("a", "b")
    assert (pair.credit.wallet_id, pair.credit.counterparty_wallet_id) == ("b", "a")
    assert (pair.debit.balance_after_paise, pair.credit.balance_after_paise) == (7450, 3050)
    assert {entry.reference for entry in pair.entries} == {"t1"}


@pytest.mark.parametrize("paise", [0, -1])
def test_a_movement_moves_a_positive_amount(paise: int) -> None:
    with pytest.raises(LedgerError):
        LedgerPair.move(
            source=_wallet("a", 100),
            destination=_wallet("b", 0),
            paise=paise,
            reference="r",
            kind="T",
        )


def test_a_movement_needs_two_wallets() -> None:
    same = _wallet("a", 100)
    with pytest.raises(LedgerError):
        LedgerPair.move(source=same, destination=same, paise=1, reference="r", kind="T")
    assert same.balance_paise == 100
