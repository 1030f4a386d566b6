"""Request and response bodies of the users service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from tijori.common.money import RupeeAmount
from tijori.common.phone import InvalidPhoneError, normalize_email, normalize_phone
from tijori.users.passwords import check_not_own, check_password


def _email(value: str) -> str:
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise PydanticCustomError("invalid_email", str(error)) from error
    return normalize_email(checked.normalized)


def _phone(value: str) -> str:
    try:
        return normalize_phone(value)
    except InvalidPhoneError as error:
        raise PydanticCustomError("invalid_phone", str(error)) from error


def _name(value: str) -> str:
    name = " ".join(value.split())
    if not name:
        raise PydanticCustomError("invalid_name", "a name is required")
    if len(name) > 100:
        raise PydanticCustomError("invalid_name", "a name has at most 100 characters")
    if any(ord(char) < 32 for char in name):
        raise PydanticCustomError("invalid_name", "a name has no control characters")
    return name


Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]
Phone = Annotated[str, Field(max_length=32), AfterValidator(_phone)]
Name = Annotated[str, Field(max_length=200), AfterValidator(_name)]
Password = Annotated[str, Field(max_length=1024), AfterValidator(check_password)]

# The people of the API examples: Asha Rao signs up, logs in and sends money to Ravi Kumar.
_ASHA_ID = "3f0c2b9e-8a41-4d6f-9b7a-2e5d1c4a6f10"
_ASHA_EMAIL = "asha@example.com"
_ASHA_PHONE = "+919876543210"
_ASHA_PASSWORD = "correct horse battery"  # noqa: S105 (a documentation example)
_SESSION_ID = "9d2e4b71-5c3a-4f08-8e6b-1a7c0d3f5e92"
_REFRESH_TOKEN = "mZ3q8Jw1bX0uR5tY7eK2vN9cL4hG6fD1sA8pQ3oI0zE"  # noqa: S105 (an example)


class UserCreate(BaseModel):
    """Sign-up: who you are and how you log in."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Asha Rao",
                    "email": _ASHA_EMAIL,
                    "password": _ASHA_PASSWORD,
                    "phone": _ASHA_PHONE,
                }
            ]
        },
    )

    name: Name
    email: Email
    password: Password
    phone: Phone

    @model_validator(mode="after")
    def _password_is_not_the_username(self) -> Self:
        check_not_own(self.password, email=self.email, phone=self.phone)
        return self


class UserUpdate(BaseModel):
    """What a user may change about themselves."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Asha R. Rao"}]}
    )

    name: Name


class Credentials(BaseModel):
    """Log-in as JSON; ``username`` is the e-mail or the phone."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"username": _ASHA_EMAIL, "password": _ASHA_PASSWORD},
                {"username": _ASHA_PHONE, "password": _ASHA_PASSWORD},
            ]
        },
    )

    username: Annotated[str, Field(min_length=1, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class UserRead(BaseModel):
    """A user as the API shows it: never a password or its hash."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ASHA_ID,
                    "name": "Asha Rao",
                    "email": _ASHA_EMAIL,
                    "phone": _ASHA_PHONE,
                    "authority": "USER",
                    "pin_set": True,
                    "email_verified": True,
                    "kyc": "MINIMUM",
                    "created_at": "2025-01-15T09:30:00Z",
                }
            ]
        },
    )

    id: str
    name: str
    email: str
    phone: str
    authority: Literal["USER", "ADMIN"]
    # whether a transaction PIN is set (never the PIN or its hash)
    pin_set: bool = False
    # whether the e-mail address was proven with its code (users/verification.py): paying
    # and the promotional balance wait for it
    email_verified: bool = False
    # the wallet category: MINIMUM (minimum-detail), PENDING, FULL or REJECTED (users/kyc.py)
    kyc: Literal["MINIMUM", "PENDING", "FULL", "REJECTED"] = "MINIMUM"
    created_at: datetime


class TokenResponse(BaseModel):
    """A short-lived access token and the refresh token of its session (OAuth2 password
    flow, and each refresh)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    # a real EdDSA token for Asha, signed by a throwaway key and long expired
                    "access_token": (
                        "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9."
                        "eyJpc3MiOiJ0aWpvcmkiLCJhdWQiOiJ0aWpvcmkiLCJzdWIiOiIzZjBjMmI5ZS04YTQx"
                        "LTRkNmYtOWI3YS0yZTVkMWM0YTZmMTAiLCJhdXRoIjoiVVNFUiIsImlhdCI6MTczNjkz"
                        "NTIwMCwibmJmIjoxNzM2OTM1MjAwLCJleHAiOjE3MzY5MzYxMDAsImp0aSI6IjhjNWUx"
                        "ZjBhLTQ3YjItNGQ5My1hNmU4LTBiMWQyYzNmNGE1ZSJ9."
                        "ahHAkjXPjeJ6hriC2TE7p4dLn5l-ol-3nPQaDAh7Mb2_S1nmk48nBzxlzRcoNkqEi9FjKUci"
                        "Sufhm7vZNvaIAA"
                    ),
                    "token_type": "bearer",
                    "expires_in": 900,
                    "refresh_token": _REFRESH_TOKEN,
                    "session_id": _SESSION_ID,
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int = Field(description="Seconds the access token is valid for.")
    refresh_token: str = Field(
        description="Opaque; exchange it at POST /api/auth/refresh for new tokens. Single "
        "use: presenting it a second time ends its session."
    )
    session_id: str = Field(description="The session these tokens belong to (GET /api/sessions).")


# a PIN's shape is checked by the service (users/pin.py), so a weak one is `weak_pin`
PinText = Annotated[str, Field(min_length=1, max_length=16)]


class PinChange(BaseModel):
    """Set the transaction PIN: ``pin`` alone the first time; afterwards with the
    ``current_pin``, or with the ``password`` when the PIN is forgotten."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"pin": "482916"},
                {"pin": "739205", "current_pin": "482916"},
                {"pin": "739205", "password": _ASHA_PASSWORD},
            ]
        },
    )

    pin: PinText
    current_pin: PinText | None = None
    password: Annotated[str, Field(min_length=1, max_length=1024)] | None = None


class PaymentTokenRequest(BaseModel):
    """Authorise one debit with the PIN: its amount, receiver (for a transfer) and the
    Idempotency-Key it will be sent with."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "pin": "482916",
                    "amount": "25.50",
                    "receiver": "+919812345678",
                    "idempotency_key": "3b1f6c0e-chai",
                }
            ]
        },
    )

    pin: PinText
    amount: RupeeAmount = Field(description="Rupees: a string or number, at most 2 decimals.")
    receiver: Annotated[str, Field(min_length=1, max_length=254)] | None = None
    idempotency_key: Annotated[str, Field(min_length=1, max_length=255)]


class PaymentTokenResponse(BaseModel):
    """A single-use token for the one debit it was asked for, sent as `X-Payment-Token`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"payment_token": "eyJhbGciOiJFZERTQSJ9.e30.c2ln", "expires_in": 120}]
        }
    )

    payment_token: str
    expires_in: int


# a refresh token is opaque: any string is looked up, and one never given out is 401
RefreshTokenText = Annotated[str, Field(min_length=1, max_length=512)]


class RefreshRequest(BaseModel):
    """Exchange a refresh token for a new access token and the next refresh token."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"refresh_token": _REFRESH_TOKEN}]}
    )

    refresh_token: RefreshTokenText


class SessionRead(BaseModel):
    """A log-in session: where, since when, when last used (its log-in or latest refresh),
    and whether it is the caller's own."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _SESSION_ID,
                    "device": "Chrome on Android",
                    "created_at": "2025-01-15T09:30:00Z",
                    "last_used_at": "2025-01-15T11:05:12Z",
                    "current": True,
                }
            ]
        },
    )

    id: str
    device: str
    created_at: datetime
    last_used_at: datetime
    current: bool = False


class SessionList(BaseModel):
    """The caller's open sessions, the most recently used first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": _SESSION_ID,
                            "device": "Chrome on Android",
                            "created_at": "2025-01-15T09:30:00Z",
                            "last_used_at": "2025-01-15T11:05:12Z",
                            "current": True,
                        },
                        {
                            "id": "0b8f3c2a-7d41-4e96-b5a0-6c2e9f1d4a37",
                            "device": "Firefox on Windows",
                            "created_at": "2025-01-02T18:10:44Z",
                            "last_used_at": "2025-01-14T20:41:03Z",
                            "current": False,
                        },
                    ]
                }
            ]
        }
    )

    items: list[SessionRead]


class PasswordChange(BaseModel):
    """A new password, proven with the current one; every other session ends."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"current_password": _ASHA_PASSWORD, "password": "a longer horse battery staple"}
            ]
        },
    )

    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    password: Password
