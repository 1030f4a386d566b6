"""Request and response bodies of the users service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from tijori.common.phone import InvalidPhoneError, normalize_phone

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128


def _email(value: str) -> str:
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise PydanticCustomError("invalid_email", str(error)) from error
    return checked.normalized.lower()


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


def _password(value: str) -> str:
    if len(value) < MIN_PASSWORD_LENGTH:
        raise PydanticCustomError(
            "weak_password", f"a password has at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(value) > MAX_PASSWORD_LENGTH:
        raise PydanticCustomError(
            "weak_password", f"a password has at most {MAX_PASSWORD_LENGTH} characters"
        )
    return value


Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]
Phone = Annotated[str, Field(max_length=32), AfterValidator(_phone)]
Name = Annotated[str, Field(max_length=200), AfterValidator(_name)]
Password = Annotated[str, Field(max_length=1024), AfterValidator(_password)]


class UserCreate(BaseModel):
    """Sign-up: who you are and how you log in."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Asha Rao",
                    "email": "asha@example.com",
                    "password": "correct horse battery",
                    "phone": "98765 43210",
                }
            ]
        },
    )

    name: Name
    email: Email
    password: Password
    phone: Phone


class UserUpdate(BaseModel):
    """What a user may change about themselves."""

    model_config = ConfigDict(extra="forbid")

    name: Name


class Credentials(BaseModel):
    """Log-in as JSON; ``username`` is the e-mail or the phone."""

    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, Field(min_length=1, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class UserRead(BaseModel):
    """A user as the API shows it: never a password or its hash."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    email: str
    phone: str
    authority: Literal["USER", "ADMIN"]
    created_at: datetime


class TokenResponse(BaseModel):
    """An access token (OAuth2 password flow)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int
