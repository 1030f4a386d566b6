"""JWT access tokens signed with Ed25519 (EdDSA) by users, verified by every service.

Keys come from ``TIJORI_JWT_PRIVATE_KEY`` / ``TIJORI_JWT_PUBLIC_KEY`` (PEM). When they
are unset (development), a key pair is generated once under the data directory.

Payment tokens (``POST /api/auth/payment-token``) authorise one debit each. A debiting
route takes :data:`PaymentTokenDep` and, once it has validated the request, calls
:meth:`PaymentAuthorisation.grant` before it reads or writes anything; single use is
then the debiting service's, in the row the debit writes anyway (see
:class:`PaymentAuthorisation`).

PyJWT reads and writes the tokens; their Ed25519 signatures are libsodium's (PyNaCl,
:class:`SodiumEdDSA`), which signs in half the time OpenSSL 3.0 takes and verifies in
a little over half: every payment signs one token and verifies one
(docs/performance.md, twentieth round).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt.algorithms import Algorithm, OKPAlgorithm
from jwt.exceptions import InvalidKeyError
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from tijori.common.clock import utcnow
from tijori.common.config import CommonSettings
from tijori.common.errors import ForbiddenError, ProblemError, UnauthorizedError

ALGORITHM = "EdDSA"
ISSUER = "tijori"
AUDIENCE = "tijori"
# the problem codes of a route behind a bearer token
AUTH_PROBLEMS = ("unauthorized", "invalid_token", "token_expired")
# how many verified tokens a process remembers
VERIFIED_TOKENS_KEPT = 10_000

# a payment token's audience: never accepted as an access token, nor one as it
PAYMENT_AUDIENCE = "tijori-payment"
# the header a debit carries its payment token in
PAYMENT_TOKEN_HEADER = "X-Payment-Token"  # noqa: S105 - a header name
# the problem codes of a debiting route, for its OpenAPI ``responses`` (by status)
PAYMENT_PROBLEMS: dict[int, Sequence[str]] = {
    400: ["idempotency_key_required"],
    403: ["payment_token_required", "payment_token_invalid"],
}

Authority = Literal["USER", "ADMIN"]


class SodiumEdDSA(Algorithm):
    """PyJWT's ``EdDSA`` (Ed25519 only) with libsodium's signatures.

    Keys are PyNaCl's; a ``cryptography`` Ed25519 key or a PEM is taken too and
    converted (PyJWT's own :class:`OKPAlgorithm` reads the PEM), so a token of any
    Ed25519 signer verifies here and one signed here verifies anywhere."""

    def prepare_key(self, key: Any) -> SigningKey | VerifyKey:
        """The PyNaCl key of ``key``."""
        if isinstance(key, SigningKey | VerifyKey):
            return key
        loaded = OKPAlgorithm().prepare_key(key)
        if isinstance(loaded, Ed25519PrivateKey):
            return SigningKey(
                loaded.private_bytes(
                    serialization.Encoding.Raw,
                    serialization.PrivateFormat.Raw,
                    serialization.NoEncryption(),
                )
            )
        if isinstance(loaded, Ed25519PublicKey):
            return VerifyKey(
                loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            )
        raise InvalidKeyError("EdDSA here is Ed25519 only")

    def sign(self, msg: bytes, key: SigningKey) -> bytes:
        """The 64-byte signature of ``msg``."""
        if not isinstance(key, SigningKey):
            raise InvalidKeyError("signing needs the private key")
        return key.sign(msg).signature

    def verify(self, msg: bytes, key: SigningKey | VerifyKey, sig: bytes) -> bool:
        """Whether ``sig`` is ``key``'s signature of ``msg``."""
        verifier = key.verify_key if isinstance(key, SigningKey) else key
        try:
            verifier.verify(msg, sig)
        except (BadSignatureError, ValueError, TypeError):  # a signature not 64 bytes long
            return False
        return True

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> Any:
        """Not needed here: the keys are PEM (``TIJORI_JWT_*_KEY``)."""
        raise NotImplementedError("keys are PEM")

    @staticmethod
    def from_jwk(jwk: Any) -> Any:
        """Not needed here: the keys are PEM (``TIJORI_JWT_*_KEY``)."""
        raise NotImplementedError("keys are PEM")


if not isinstance(jwt.get_algorithm_by_name(ALGORITHM), SodiumEdDSA):
    jwt.unregister_algorithm(ALGORITHM)
    jwt.register_algorithm(ALGORITHM, SodiumEdDSA())


@dataclass(frozen=True)
class PaymentGrant:
    """What a verified payment token allows: one debit, until it expires."""

    token_id: str
    expires_at: float


class PaymentTokenError(ProblemError):
    """A debit whose payment token is missing its signature, expired, or for another
    payment."""

    status, code = 403, "payment_token_invalid"


class PaymentTokenRequiredError(ProblemError):
    """A debit sent without an ``X-Payment-Token``."""

    status, code = 403, "payment_token_required"


class IdempotencyKeyRequiredError(ProblemError):
    """A debit sent without an ``Idempotency-Key``: its payment token is bound to one.

    400, as the IETF draft on the Idempotency-Key header (section 2.7) asks of a
    resource that requires the header."""

    status, code = 400, "idempotency_key_required"


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for."""

    user_id: str
    authority: Authority
    # the log-in session the token was issued in (its ``sid``); None for a token without one
    session_id: str | None = None

    @property
    def is_admin(self) -> bool:
        """Whether this principal may read every user's resources."""
        return self.authority == "ADMIN"


def _dev_key_path(data_dir: Path) -> Path:
    return data_dir / "keys" / "jwt-ed25519.pem"


def _ensure_dev_private_key(data_dir: Path) -> bytes:
    """Create the development key once; concurrent starters all read the same winner."""
    path = _dev_key_path(data_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        staging = path.with_suffix(f".{os.getpid()}.tmp")
        staging.write_bytes(pem)
        staging.chmod(0o600)
        try:
            os.link(staging, path)  # atomic: fails if another process won
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    return path.read_bytes()


class TokenKeys:
    """The signing key (users only) and the verifying key (everyone)."""

    def __init__(self, *, private_pem: bytes | None, public_pem: bytes) -> None:
        private = (
            serialization.load_pem_private_key(private_pem, password=None) if private_pem else None
        )
        if private is not None and not isinstance(private, Ed25519PrivateKey):
            raise ValueError("the JWT private key must be an Ed25519 key")
        public = serialization.load_pem_public_key(public_pem)
        if not isinstance(public, Ed25519PublicKey):
            raise ValueError("the JWT public key must be an Ed25519 key")
        self.public = public
        # libsodium's keys, which sign and verify (SodiumEdDSA); Any, as PyJWT's types
        # name only cryptography's keys
        self._signing: Any = None if private is None else SodiumEdDSA().prepare_key(private)
        self._verifying: Any = SodiumEdDSA().prepare_key(public)
        self.public_pem = public_pem
        # token -> (principal, not before, expiry): a client sends the same token with
        # every request, and checking its signature each time is dear (docs/performance.md)
        self._verified: dict[str, tuple[Principal, float, float]] = {}

    @classmethod
    def from_settings(cls, settings: CommonSettings, *, signing: bool = True) -> TokenKeys:
        """Keys from the environment, else the development key pair under the data dir.

        Only a process that signs tokens (users; ``signing``) keeps the private key: the
        others derive the public key and drop it, so no bug or exploit elsewhere can
        mint a token."""
        private_pem: bytes | None
        if not signing:
            if settings.jwt_public_key is not None:
                return cls(private_pem=None, public_pem=settings.jwt_public_key.encode())
            verifier = cls.from_settings(settings, signing=True)
            return cls(private_pem=None, public_pem=verifier.public_pem)
        if settings.jwt_private_key is not None:
            private_pem = settings.jwt_private_key.get_secret_value().encode()
        elif settings.jwt_public_key is not None:
            private_pem = None
        else:
            private_pem = _ensure_dev_private_key(settings.data_dir)
        if settings.jwt_public_key is not None:
            public_pem = settings.jwt_public_key.encode()
        else:
            assert private_pem is not None
            key = serialization.load_pem_private_key(private_pem, password=None)
            public_pem = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        return cls(private_pem=private_pem, public_pem=public_pem)

    def _sign(
        self, *, audience: str, user_id: str, ttl: timedelta, not_before: bool, **claims: Any
    ) -> str:
        """A token of ``audience`` for ``user_id``, valid for ``ttl`` from now (and, with
        ``not_before``, not before now), with ``claims``."""
        if self._signing is None:
            raise RuntimeError("this service holds no signing key")
        now = utcnow()
        standard = {"iss": ISSUER, "aud": audience, "sub": user_id, "iat": now, "exp": now + ttl}
        if not_before:
            standard["nbf"] = now
        payload = standard | claims | {"jti": str(uuid.uuid4())}
        return jwt.encode(payload, self._signing, algorithm=ALGORITHM)

    def issue(
        self,
        *,
        user_id: str,
        authority: Authority,
        ttl: timedelta,
        session_id: str | None = None,
    ) -> str:
        """Sign an access token for ``user_id``, in the log-in session ``session_id`` (its
        ``sid`` claim). Services verify it from the public key alone, so an ended session's
        token is refused by users at once and elsewhere only once it expires
        (docs/architecture.md, "Sessions")."""
        claims: dict[str, Any] = {"auth": authority}
        if session_id is not None:
            claims["sid"] = session_id
        return self._sign(audience=AUDIENCE, user_id=user_id, ttl=ttl, not_before=True, **claims)

    def issue_payment(
        self,
        *,
        user_id: str,
        amount_paise: int,
        receiver: str | None,
        idempotency_key: str,
        ttl: timedelta,
    ) -> str:
        """Sign a payment token: ``user_id``'s authorisation, by PIN, of this one debit.

        Its audience is not an access token's, so neither passes for the other."""
        return self._sign(
            audience=PAYMENT_AUDIENCE,
            user_id=user_id,
            ttl=ttl,
            not_before=False,
            amt=amount_paise,
            rcv=receiver,
            idk=idempotency_key,
        )

    def verify_payment(
        self,
        token: str,
        *,
        user_id: str,
        amount_paise: int,
        receiver: str | None,
        idempotency_key: str,
    ) -> PaymentGrant:
        """The grant of a valid payment token bound to exactly this debit; raises
        ``PaymentTokenError`` otherwise. Remembering used grants (single use) is the
        debiting service's part."""
        try:
            claims = jwt.decode(
                token,
                self._verifying,
                algorithms=[ALGORITHM],
                audience=PAYMENT_AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "aud", "iss", "jti"]},
            )
        except jwt.PyJWTError as error:
            raise PaymentTokenError("the payment token is not valid or has expired") from error
        bound = (claims.get("sub"), claims.get("amt"), claims.get("rcv"), claims.get("idk"))
        if bound != (user_id, amount_paise, receiver, idempotency_key):
            raise PaymentTokenError("the payment token was given for another payment")
        return PaymentGrant(token_id=str(claims["jti"]), expires_at=float(claims["exp"]))

    def verify(self, token: str) -> Principal:
        """Return the principal of a valid token; raise ``UnauthorizedError`` otherwise.

        A token whose signature was checked before is not checked again; its validity in
        time is, on every call.
        """
        known = self._verified.get(token)
        if known is not None:
            principal, not_before, expires = known
            now = time.time()
            if now >= expires:
                raise UnauthorizedError("the token has expired", code="token_expired")
            if now >= not_before:
                return principal
        principal, not_before, expires = self._check(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = (principal, not_before, expires)
        return principal

    def _check(self, token: str) -> tuple[Principal, float, float]:
        try:
            claims = jwt.decode(
                token,
                self._verifying,
                algorithms=[ALGORITHM],  # pinned: no "none", no HMAC with the public key
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise UnauthorizedError("the token has expired", code="token_expired") from error
        except jwt.PyJWTError as error:
            raise UnauthorizedError("the token is not valid", code="invalid_token") from error
        authority = claims.get("auth")
        session_id = claims.get("sid")
        if (
            authority not in ("USER", "ADMIN")
            or not isinstance(claims["sub"], str)
            or not isinstance(session_id, str | None)
        ):
            raise UnauthorizedError("the token is not valid", code="invalid_token")
        principal = Principal(user_id=claims["sub"], authority=authority, session_id=session_id)
        return principal, float(claims.get("nbf", claims["iat"])), float(claims["exp"])


_bearer = HTTPBearer(auto_error=False, description="An access token from POST /api/auth/token")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from the ``Authorization: Bearer`` header; 401 without a valid token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise UnauthorizedError()
    keys: TokenKeys = request.app.state.token_keys
    return keys.verify(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
"""The verified caller of a route."""


async def current_admin(principal: CurrentPrincipal) -> Principal:
    """The caller of a back-office route (``/api/admin/...``): 403 ``forbidden`` unless
    their token says ADMIN."""
    if not principal.is_admin:
        raise ForbiddenError("this is for Tijori's team only", code="forbidden")
    return principal


CurrentAdmin = Annotated[Principal, Depends(current_admin)]
"""The verified caller of a back-office route, an ADMIN."""


@dataclass(frozen=True)
class PaymentAuthorisation:
    """The payment token a debit came with (``None``: none), for the caller who sent it;
    nothing is checked until :meth:`grant` is given the debit.

    How a debiting service uses it (transfers do; a withdrawal does the same):

    1. the route takes :data:`PaymentTokenDep` and lists :data:`PAYMENT_PROBLEMS` in its
       OpenAPI;
    2. once the request itself is valid (a malformed one hears its 422 first), and
       before anything is read or written, it calls :meth:`grant` with the amount, the
       normalised receiver (``None`` for a debit without one) and the Idempotency-Key:
       403 ``payment_token_required`` without a token, 400
       ``idempotency_key_required`` without a key, 403 ``payment_token_invalid`` for a
       bad, expired or foreign token, so a refused token changes nothing;
    3. it stores ``grant.token_id`` in a unique column of the row the debit inserts, in
       the same statement: the database remembers used tokens at no extra statement,
       and a token already used (the unique column refuses it) is refused too. A
       request that replays its Idempotency-Key answers with the debit stored before,
       whichever valid token for that same payment it carries: that is no new debit.

    A token is bound to its Idempotency-Key, and one key names one debit, so the key
    alone already stops a token paying twice; the unique column holds even where keys
    are purged.
    """

    token: str | None
    user_id: str
    keys: TokenKeys

    def grant(
        self, *, amount_paise: int, receiver: str | None, idempotency_key: str | None
    ) -> PaymentGrant:
        """The grant of the token for exactly this debit of the caller's; raises
        ``PaymentTokenRequiredError``, ``IdempotencyKeyRequiredError`` or
        ``PaymentTokenError`` otherwise."""
        if not self.token:
            raise PaymentTokenRequiredError(
                f"a payment needs the {PAYMENT_TOKEN_HEADER} header from "
                "POST /api/auth/payment-token"
            )
        if idempotency_key is None:
            raise IdempotencyKeyRequiredError(
                "a payment needs an Idempotency-Key: its payment token is bound to one"
            )
        return self.keys.verify_payment(
            self.token,
            user_id=self.user_id,
            amount_paise=amount_paise,
            receiver=receiver,
            idempotency_key=idempotency_key,
        )


async def payment_authorisation(
    request: Request,
    principal: CurrentPrincipal,
    token: Annotated[
        str | None,
        Header(
            alias=PAYMENT_TOKEN_HEADER,
            description="The payment token from POST /api/auth/payment-token for this "
            "very debit (amount, receiver and Idempotency-Key); single use.",
        ),
    ] = None,
) -> PaymentAuthorisation:
    """The debit's payment token, if any, to be checked against it by
    :meth:`PaymentAuthorisation.grant`."""
    keys: TokenKeys = request.app.state.token_keys
    return PaymentAuthorisation(token=token, user_id=principal.user_id, keys=keys)


PaymentTokenDep = Annotated[PaymentAuthorisation, Depends(payment_authorisation)]
"""The payment token of a debiting route, checked by :meth:`PaymentAuthorisation.grant`."""
