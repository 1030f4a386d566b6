"""Token keys for tests that sign tokens themselves, as users does."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tijori.common.auth import TokenKeys


def new_token_keys() -> TokenKeys:
    """A fresh Ed25519 key pair that signs and verifies."""
    private = Ed25519PrivateKey.generate()
    return TokenKeys(
        private_pem=private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        public_pem=private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
