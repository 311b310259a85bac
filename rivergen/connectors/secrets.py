"""Data-source secrets encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256, from
``cryptography``).

Only the secret fields of a config (its ``SecretStr`` values: a DSN, S3 keys) are sealed; the
rest of the row stays queryable. The key is ``RIVERGEN_CONNECTORS__SECRETS_KEY`` when set, else
derived (HKDF-SHA256, its own label) from the access-token signing key that every replica
already shares. Changing that key makes stored secrets unreadable: set ``SECRETS_KEY`` before
rotating the signing key.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from rivergen.errors import ConfigurationError, RiverGenError
from rivergen.settings import Settings

SEALED_PREFIX = "enc:v1:"
_LABEL = b"rivergen data-source secrets v1"


def _derived_key(material: bytes) -> bytes:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(material)
    return base64.urlsafe_b64encode(raw)


def sealing_key(settings: Settings) -> bytes | None:
    """The Fernet key data-source secrets are sealed with: ``RIVERGEN_CONNECTORS__SECRETS_KEY``,
    else derived from the JWT signing key (None: neither is set). The platform's other keyed
    secrets derive from it too (the hash masks' keys, see
    :mod:`rivergen.services.governance.keys`)."""
    if settings.connectors.secrets_key is not None:
        return settings.connectors.secrets_key.get_secret_value().encode()
    if settings.auth.jwt_private_key is not None:
        return _derived_key(settings.auth.jwt_private_key.get_secret_value().encode())
    return None


class SecretBox:
    """Seals and opens the secret fields of a stored config."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise ConfigurationError(
                "RIVERGEN_CONNECTORS__SECRETS_KEY is not a Fernet key (32 bytes, url-safe base64)"
            ) from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        key = sealing_key(settings)
        if key is not None:
            return cls(key)
        raise ConfigurationError(
            "data-source secrets need a key: set RIVERGEN_CONNECTORS__SECRETS_KEY (or "
            "RIVERGEN_AUTH__JWT_PRIVATE_KEY, which it is derived from by default)"
        )

    def seal(self, value: str) -> str:
        return SEALED_PREFIX + self._fernet.encrypt(value.encode()).decode("ascii")

    def open(self, value: str) -> str:
        if not value.startswith(SEALED_PREFIX):
            return value
        try:
            return self._fernet.decrypt(value[len(SEALED_PREFIX) :].encode("ascii")).decode()
        except InvalidToken:
            raise RiverGenError(
                "a data source's secrets cannot be decrypted: the secrets key changed",
                code="secrets_key_mismatch",
            ) from None

    def open_fields(self, data: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
        return {
            k: self.open(v) if k in fields and isinstance(v, str) else v for k, v in data.items()
        }
