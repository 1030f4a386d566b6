"""Access tokens: EdDSA only, short-lived, and nothing else verifies."""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from tijori.common.auth import TokenKeys
from tijori.common.config import CommonSettings
from tijori.common.errors import UnauthorizedError


@pytest.fixture
def keys(tmp_path: Path) -> TokenKeys:
    return TokenKeys.from_settings(CommonSettings(data_dir=tmp_path))


def test_a_token_verifies_to_its_user_and_authority(keys: TokenKeys) -> None:
    token = keys.issue(user_id="u-1", authority="ADMIN", ttl=timedelta(minutes=5))
    principal = keys.verify(token)
    assert principal.user_id == "u-1" and principal.is_admin


def test_the_development_key_is_made_once_and_shared(tmp_path: Path) -> None:
    first = TokenKeys.from_settings(CommonSettings(data_dir=tmp_path))
    second = TokenKeys.from_settings(CommonSettings(data_dir=tmp_path))
    token = first.issue(user_id="u", authority="USER", ttl=timedelta(minutes=1))
    assert second.verify(token).user_id == "u"
    assert (tmp_path / "keys" / "jwt-ed25519.pem").stat().st_mode & 0o077 == 0


def test_a_verifier_with_only_the_public_key_verifies_but_cannot_sign(
    keys: TokenKeys, tmp_path: Path
) -> None:
    public_pem = keys.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    verifier = TokenKeys.from_settings(
        CommonSettings(data_dir=tmp_path / "other", jwt_public_key=public_pem)
    )
    token = keys.issue(user_id="u", authority="USER", ttl=timedelta(minutes=1))
    assert verifier.verify(token).user_id == "u"
    with pytest.raises(RuntimeError):
        verifier.issue(user_id="u", authority="USER", ttl=timedelta(minutes=1))


def test_only_the_signing_service_keeps_the_private_key(tmp_path: Path) -> None:
    """Every service but users verifies only, on the development key pair too: the
    private key it read is dropped, so nothing there can mint a token."""
    users = TokenKeys.from_settings(CommonSettings(data_dir=tmp_path), signing=True)
    wallets = TokenKeys.from_settings(CommonSettings(data_dir=tmp_path), signing=False)
    token = users.issue(user_id="u", authority="USER", ttl=timedelta(minutes=1))
    assert wallets.verify(token).user_id == "u"
    for sign in (
        lambda: wallets.issue(user_id="u", authority="ADMIN", ttl=timedelta(minutes=1)),
        lambda: wallets.issue_payment(
            user_id="u",
            amount_paise=100,
            receiver=None,
            idempotency_key="k",
            ttl=timedelta(minutes=1),
        ),
    ):
        with pytest.raises(RuntimeError):
            sign()
    public_pem = users.public_pem  # from the environment: the same
    environment = CommonSettings(data_dir=tmp_path / "env", jwt_public_key=public_pem.decode())
    assert TokenKeys.from_settings(environment, signing=False).verify(token).user_id == "u"


async def test_a_service_app_holds_no_signing_key_unless_it_signs(tmp_path: Path) -> None:
    from tijori.common.app import build_runtime

    runtime = build_runtime(
        name="wallets",
        settings=CommonSettings(data_dir=tmp_path),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
        outbox_model=None,
    )
    with pytest.raises(RuntimeError):
        runtime.token_keys.issue(user_id="u", authority="ADMIN", ttl=timedelta(minutes=1))
    await runtime.engine.dispose()


def _claims() -> dict[str, object]:
    return {"iss": "tijori", "aud": "tijori", "sub": "u", "auth": "USER", "iat": 1, "exp": 2**40}


def test_expired_tokens_are_refused_as_expired(keys: TokenKeys) -> None:
    token = keys.issue(user_id="u", authority="USER", ttl=timedelta(seconds=-1))
    with pytest.raises(UnauthorizedError) as raised:
        keys.verify(token)
    assert raised.value.code == "token_expired"


@pytest.mark.parametrize(
    "forge",
    [
        lambda keys: jwt.encode(_claims(), key=None, algorithm="none"),  # type: ignore[arg-type]
        lambda keys: jwt.encode(_claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA"),
        lambda keys: jwt.encode(
            _claims(),
            keys.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
            algorithm="HS256",
        ),
        lambda keys: jwt.encode(
            {**_claims(), "auth": "ROOT"}, Ed25519PrivateKey.generate(), algorithm="EdDSA"
        ),
        lambda keys: "a.b.c",
        lambda keys: "",
    ],
    ids=["alg-none", "foreign-key", "hs256-with-public-key", "bad-authority", "garbage", "empty"],
)
def test_forged_tokens_are_refused(keys: TokenKeys, forge: object) -> None:
    token = forge(keys)  # type: ignore[operator]
    with pytest.raises(UnauthorizedError) as raised:
        keys.verify(token)
    assert raised.value.code == "invalid_token"


def test_tokens_missing_required_claims_or_with_another_audience_are_refused(
    tmp_path: Path,
) -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    keys = TokenKeys.from_settings(CommonSettings(data_dir=tmp_path, jwt_private_key=pem))
    for claims in (
        {k: v for k, v in _claims().items() if k != "exp"},
        {k: v for k, v in _claims().items() if k != "sub"},
        _claims() | {"aud": "someone-else"},
        _claims() | {"iss": "someone-else"},
    ):
        with pytest.raises(UnauthorizedError):
            keys.verify(jwt.encode(claims, private, algorithm="EdDSA"))
    assert keys.verify(jwt.encode(_claims(), private, algorithm="EdDSA")).user_id == "u"


def test_a_token_checked_before_is_still_refused_once_it_expires(
    keys: TokenKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = keys.issue(user_id="u-1", authority="USER", ttl=timedelta(minutes=5))
    assert keys.verify(token).user_id == "u-1"
    assert keys.verify(token).user_id == "u-1"  # remembered: its signature is not rechecked
    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(UnauthorizedError) as refused:
        keys.verify(token)
    assert refused.value.code == "token_expired"


def test_a_token_that_differs_in_one_character_from_one_checked_is_checked(
    keys: TokenKeys,
) -> None:
    token = keys.issue(user_id="u-1", authority="USER", ttl=timedelta(minutes=5))
    keys.verify(token)
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(UnauthorizedError):
        keys.verify(tampered)


def test_tokens_signed_with_libsodium_are_standard_ed25519_both_ways(tmp_path: Path) -> None:
    """Signatures are libsodium's (SodiumEdDSA): OpenSSL's Ed25519, through PyJWT's own
    algorithm, verifies them, and TokenKeys verifies one OpenSSL signed."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    keys = TokenKeys.from_settings(CommonSettings(data_dir=tmp_path, jwt_private_key=pem))
    openssl = OKPAlgorithm()
    token = keys.issue(user_id="u", authority="USER", ttl=timedelta(minutes=1))
    header, payload, signature = token.split(".")
    signed = f"{header}.{payload}".encode()
    raw = base64.urlsafe_b64decode(signature + "==")
    assert openssl.verify(signed, private.public_key(), raw)
    assert not openssl.verify(signed + b" ", private.public_key(), raw)
    theirs = base64.urlsafe_b64encode(openssl.sign(signed, private)).decode().rstrip("=")
    their = f"{header}.{payload}.{theirs}"
    assert (
        TokenKeys.from_settings(CommonSettings(data_dir=tmp_path / "other", jwt_private_key=pem))
        .verify(their)
        .user_id
        == "u"
    )
    tampered = f"{header}.{payload}.{signature[:-2]}AA"
    with pytest.raises(UnauthorizedError):
        keys.verify(tampered)
