"""The transaction PIN's rules, its keyed hash, the attempt limit and payment tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.unit.conftest import metric_value
from tijori.common.auth import PaymentTokenError, TokenKeys
from tijori.common.config import CommonSettings
from tijori.common.errors import ProblemError, UnauthorizedError, UnprocessableError
from tijori.users import pin
from tijori.users.config import UsersSettings


@pytest.mark.parametrize(
    "weak",
    [
        "",
        "123",
        "12345",
        "1234567",
        "0000",
        "999999",
        "1234",
        "4321",
        "123456",
        "987654",
        "12a4",
        "\u0661\u0662\u0663\u0665",  # Arabic-Indic digits
        "\uff11\uff12\uff13\uff15",  # full-width digits
        "12 45",
        " 1357",
    ],
)
def test_a_weak_or_malformed_pin_is_refused(weak: str) -> None:
    with pytest.raises(UnprocessableError) as refused:
        pin.check_strength(weak)
    assert refused.value.code == "weak_pin"


@pytest.mark.parametrize("strong", ["1357", "2580", "482916", "112233", "1243", "0129"])
def test_four_or_six_digits_that_are_not_a_run_are_allowed(strong: str) -> None:
    pin.check_strength(strong)


def test_a_pin_is_kept_as_a_keyed_hash_bound_to_its_user() -> None:
    stored = pin.digest(b"secret", user_id="asha", pin="482916")
    assert "482916" not in stored and len(stored) == 64
    assert pin.matches(b"secret", user_id="asha", pin="482916", stored=stored)
    assert not pin.matches(b"secret", user_id="asha", pin="482917", stored=stored)
    assert not pin.matches(b"other key", user_id="asha", pin="482916", stored=stored)
    assert stored != pin.digest(b"secret", user_id="ravi", pin="482916")


def test_the_development_secret_is_made_once_readable_by_its_owner_alone(tmp_path: Path) -> None:
    settings = UsersSettings(data_dir=tmp_path)
    first = pin.load_secret(settings)
    assert first == pin.load_secret(settings) and len(first) == 64
    assert ((tmp_path / "keys" / "pin-secret").stat().st_mode & 0o777) == 0o600
    assert pin.load_secret(UsersSettings(data_dir=tmp_path, pin_secret="from-env")) == b"from-env"


T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


class _Row:
    """One user's strikes, counted as ``service._count_pin`` counts them on the row."""

    def __init__(self, settings: UsersSettings) -> None:
        self.settings = settings
        self.strikes = pin.Strikes()

    def guess(self, *, right: bool, at: float = 0.0) -> ProblemError | None:
        self.strikes, left = pin.strike(
            self.strikes,
            right=right,
            now=T0 + timedelta(seconds=at),
            limit=self.settings.pin_max_failures,
            lock_seconds=self.settings.pin_lock_seconds,
        )
        try:
            pin.judge(self.settings, right=right, left=left, user_id="asha")
        except (pin.WrongPinError, pin.PinLockedError) as refused:
            return refused
        return None


def test_three_wrong_pins_in_a_row_lock_payments_and_a_right_one_resets_the_count() -> None:
    row = _Row(UsersSettings(pin_max_failures=3, pin_lock_seconds=60))
    wrong = row.guess(right=False)
    assert isinstance(wrong, UnauthorizedError) and wrong.extra == {"attempts_left": 2}
    row.guess(right=False)
    assert row.guess(right=True) is None  # two wrong, then right: counted afresh
    assert row.strikes == pin.Strikes()
    lefts = [row.guess(right=False).extra["attempts_left"] for _ in range(3)]  # type: ignore[union-attr]
    assert lefts == [2, 1, 0]
    locked = row.guess(right=True)  # even the right PIN, once locked
    assert isinstance(locked, pin.PinLockedError)
    assert locked.status == 423 and locked.headers == {"Retry-After": "60"}
    assert row.strikes.count == 3  # a refused try changes nothing


def test_the_lock_lasts_from_the_wrong_pin_that_set_it() -> None:
    row = _Row(UsersSettings(pin_max_failures=3, pin_lock_seconds=60))
    row.guess(right=False, at=0)
    row.guess(right=False, at=50)
    row.guess(right=False, at=50)  # locks at 50 s: until 110 s, not 60 s
    assert isinstance(row.guess(right=True, at=100), pin.PinLockedError)
    assert row.guess(right=True, at=111) is None


def test_wrong_pins_stop_counting_once_their_time_is_over() -> None:
    row = _Row(UsersSettings(pin_max_failures=3, pin_lock_seconds=60))
    row.guess(right=False, at=0)
    row.guess(right=False, at=30)  # the count started at 0 s: it lasts until 60 s
    wrong = row.guess(right=False, at=61)  # the two before no longer count
    assert wrong is not None and wrong.extra == {"attempts_left": 2}
    assert row.strikes.live(T0 + timedelta(seconds=61)) == 1
    assert row.strikes.live(T0 + timedelta(seconds=122)) == 0


def _keys() -> TokenKeys:
    return TokenKeys.from_settings(
        CommonSettings(data_dir=__import__("pathlib").Path("/tmp/tijori-pin-test"))
    )


def test_a_payment_token_is_bound_to_its_one_debit() -> None:
    keys = _keys()
    bound = {
        "user_id": "asha",
        "amount_paise": 2550,
        "receiver": "+919812345678",
        "idempotency_key": "k1",
    }
    token = keys.issue_payment(**bound, ttl=timedelta(minutes=2))
    grant = keys.verify_payment(token, **bound)
    assert grant.token_id
    for change in (
        {"amount_paise": 2551},
        {"receiver": "+919812345679"},
        {"receiver": None},
        {"idempotency_key": "k2"},
        {"user_id": "ravi"},
    ):
        with pytest.raises(PaymentTokenError):
            keys.verify_payment(token, **(bound | change))


def test_payment_and_access_tokens_do_not_pass_for_each_other_and_expire() -> None:
    keys = _keys()
    bound: dict[str, Any] = {
        "user_id": "asha",
        "amount_paise": 100,
        "receiver": None,
        "idempotency_key": "k",
    }
    access = keys.issue(user_id="asha", authority="USER", ttl=timedelta(minutes=5))
    with pytest.raises(PaymentTokenError):
        keys.verify_payment(access, **bound)
    payment = keys.issue_payment(**bound, ttl=timedelta(minutes=2))
    with pytest.raises(UnauthorizedError):
        keys.verify(payment)
    expired = keys.issue_payment(**bound, ttl=timedelta(seconds=-1))
    with pytest.raises(PaymentTokenError):
        keys.verify_payment(expired, **bound)


def _pin_checks(outcome: str) -> float:
    return metric_value("tijori_pin_checks_total", outcome=outcome)


def test_pin_checks_are_counted_by_outcome() -> None:
    outcomes = ("right", "wrong", "locked", "refused")
    before = [_pin_checks(outcome) for outcome in outcomes]
    row = _Row(UsersSettings(pin_max_failures=3, pin_lock_seconds=60))
    for right in (True, False, False, False):
        row.guess(right=right)
    assert isinstance(row.guess(right=True), pin.PinLockedError)
    after = [_pin_checks(outcome) for outcome in outcomes]
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 2, 1, 1]
