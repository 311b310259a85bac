"""Credentials: password hashes, signed access tokens, opaque secrets, and log redaction.

Pure functions and small classes, no I/O: the stores keep what these produce, the routes call
them. What a caller may rely on:

* Passwords are hashed with Argon2id (argon2-cffi). :func:`verify_password` never raises on a
  wrong password or a malformed hash, it returns ``False``; :func:`verify_dummy` costs what a
  real check costs, for logins of unknown emails.
* Access tokens are JWTs signed with Ed25519 (``EdDSA``). :meth:`TokenSigner.verify` accepts
  only tokens it could have issued and raises :class:`~rivergen.errors.Unauthorized` with code
  ``token_expired`` or ``invalid_token`` for everything else.
* Refresh tokens and API keys are random secrets; only :func:`hash_secret` of them is stored.
* :func:`redact` and :class:`RedactingFilter` mask anything shaped like one of these secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import uuid
from datetime import UTC, datetime
from functools import cached_property
from typing import Annotated, Any, NamedTuple

import argon2
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from rivergen.errors import ConfigurationError, Unauthorized
from rivergen.settings import AuthSettings

__all__ = [
    "API_KEY_PATTERN",
    "DUMMY_PASSWORD_HASH",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "AccessClaims",
    "ApiKeyParts",
    "Password",
    "PasswordHasher",
    "RedactingFilter",
    "TokenSigner",
    "generate_private_key_pem",
    "hash_password",
    "hash_secret",
    "needs_rehash",
    "new_api_key",
    "new_refresh_token",
    "parse_api_key",
    "public_key_pem",
    "redact",
    "secrets_equal",
    "validate_password",
    "verify_dummy",
    "verify_password",
]

# ---------------------------------------------------------------------------------------------
# Passwords

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256

# The Argon2id hash of a random password that was thrown away, made with argon2-cffi's default
# parameters. A login for an unknown email verifies against it, so it costs what a real check
# costs and the response time does not tell which emails have accounts. Nothing matches it.
DUMMY_PASSWORD_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$/mh3zQt6hs5dQpM4rFi7JQ"
    "$9f4dQuzwhRs+xPgyCm3+250LK/uHonOzsOh4SDigwwM"
)


def validate_password(password: str) -> str:
    """Return ``password`` if the policy allows it; raise :class:`ValueError` saying why not.

    The policy: 10 to 256 characters, not all whitespace. Usable as a pydantic validator
    (``field_validator`` or ``AfterValidator``; see :data:`Password`).
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password must be at most {MAX_PASSWORD_LENGTH} characters long")
    if not password.strip():
        raise ValueError("password must not be only whitespace")
    return password


Password = Annotated[str, AfterValidator(validate_password)]
"""A ``str`` field type that enforces the password policy."""


class PasswordHasher:
    """Argon2id hashing of passwords; the parameters default to argon2-cffi's (RFC 9106)."""

    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        self._hasher = hasher or argon2.PasswordHasher()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether ``password`` matches; ``False`` (never an error) on a mismatch or bad hash."""
        try:
            return self._hasher.verify(password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters (rehash it after a good login)."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except argon2.exceptions.InvalidHashError:
            return True

    def verify_dummy(self, password: str) -> None:
        """Spend the time of one :meth:`verify`, for a login whose email has no account."""
        self.verify(self._dummy_hash, password)

    @cached_property
    def _dummy_hash(self) -> str:
        # The module's dummy only costs the same as a real check under the same parameters.
        if not self.needs_rehash(DUMMY_PASSWORD_HASH):
            return DUMMY_PASSWORD_HASH
        return self.hash(secrets.token_urlsafe(32))


_passwords = PasswordHasher()


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (salted; two calls give two different hashes)."""
    return _passwords.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; ``False``, never an error, otherwise."""
    return _passwords.verify(password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """Whether ``password_hash`` was made with other parameters than the current ones."""
    return _passwords.needs_rehash(password_hash)


def verify_dummy(password: str) -> None:
    """Spend the time of one password check; call it when the email has no account."""
    _passwords.verify_dummy(password)


# ---------------------------------------------------------------------------------------------
# Access tokens

_ALGORITHM = "EdDSA"
# A distinct `typ` keeps any other JWT signed with the same key (a future ticket, an ID
# token) from being accepted as an access token (RFC 9068).
_TOKEN_TYPE = "at+jwt"
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "nbf", "exp", "jti"]


class AccessClaims(BaseModel):
    """The claims of a verified access token."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    iss: str
    aud: str
    sub: str
    iat: int
    nbf: int
    exp: int
    jti: str
    sid: str
    ws: str | None = None

    @property
    def user_id(self) -> str:
        return self.sub

    @property
    def session_id(self) -> str:
        return self.sid

    @property
    def workspace_id(self) -> str | None:
        return self.ws


def generate_private_key_pem() -> str:
    """A new Ed25519 private key, as unencrypted PKCS#8 PEM."""
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )


def _load_private_key(private_pem: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(private_pem.encode("utf-8"), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError("the JWT private key is not a readable PEM key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError("the JWT private key must be an Ed25519 key")
    return key


def public_key_pem(private_pem: str) -> str:
    """The public half of an Ed25519 private key, as SubjectPublicKeyInfo PEM."""
    return (
        _load_private_key(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


class TokenSigner:
    """Issues and verifies access tokens with one Ed25519 key.

    Raises :class:`~rivergen.errors.ConfigurationError` if the key is not an Ed25519 PEM key.
    ``leeway_s`` absorbs clock skew between replicas for ``exp``, ``nbf`` and ``iat``.
    """

    def __init__(
        self,
        private_key_pem: str,
        issuer: str,
        audience: str,
        ttl_s: int,
        *,
        leeway_s: float = 30.0,
    ) -> None:
        if ttl_s <= 0:
            raise ConfigurationError("the access token lifetime must be positive")
        self._private_key = _load_private_key(private_key_pem)
        self._public_key = self._private_key.public_key()
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s
        self.leeway_s = leeway_s

    @classmethod
    def from_settings(cls, auth: AuthSettings) -> TokenSigner:
        if auth.jwt_private_key is None:
            raise ConfigurationError("no JWT private key is configured (auth.jwt_private_key)")
        return cls(
            auth.jwt_private_key.get_secret_value(),
            issuer=auth.issuer,
            audience=auth.audience,
            ttl_s=auth.access_token_ttl_s,
        )

    def issue(
        self,
        user_id: str,
        workspace_id: str | None,
        session_id: str,
        now: datetime | None = None,
    ) -> str:
        """A signed access token for ``user_id`` in ``session_id``, valid for ``ttl_s``."""
        if now is None:
            now = datetime.now(UTC)
        elif now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        issued_at = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + self.ttl_s,
            "jti": uuid.uuid4().hex,
            "sid": session_id,
            "ws": workspace_id,
        }
        return jwt.encode(
            claims, self._private_key, algorithm=_ALGORITHM, headers={"typ": _TOKEN_TYPE}
        )

    def verify(self, token: str) -> AccessClaims:
        """The claims of ``token``; :class:`~rivergen.errors.Unauthorized` if it is not valid.

        The error code is ``token_expired`` for an expired token and ``invalid_token`` for any
        other refusal: another algorithm (``none``, HMAC, RSA...), a bad signature, a wrong
        issuer, audience or type, a token not valid yet, a missing claim, or garbage.
        """
        try:
            decoded = jwt.decode_complete(
                token,
                self._public_key,
                # Pinned: the token's own `alg` header never chooses how it is checked.
                algorithms=[_ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the access token has expired", code="token_expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("the access token is not valid", code="invalid_token") from exc
        if decoded["header"].get("typ") != _TOKEN_TYPE:
            raise Unauthorized("the token is not an access token", code="invalid_token")
        try:
            return AccessClaims.model_validate(decoded["payload"])
        except ValidationError as exc:
            raise Unauthorized("the access token is not valid", code="invalid_token") from exc


# ---------------------------------------------------------------------------------------------
# Opaque secrets: refresh tokens and API keys

_API_KEY_SCHEME = "rg"
_API_KEY_PREFIX_BYTES = 4  # 8 hex characters, enough to tell a workspace's keys apart
_API_KEY_SECRET_BYTES = 32
API_KEY_PATTERN = re.compile(r"rg_(?P<prefix>[0-9a-f]{8})_(?P<secret>[A-Za-z0-9_-]{43})")
"""The shape of an API key: ``rg_<8 hex prefix>_<43 base64url characters>``."""


class ApiKeyParts(NamedTuple):
    prefix: str
    secret: str


def new_refresh_token() -> str:
    """A new refresh token: 256 random bits, URL-safe. Store only :func:`hash_secret` of it."""
    return secrets.token_urlsafe(32)


def new_api_key() -> tuple[str, str]:
    """A new API key as ``(key, prefix)``.

    Show ``key`` once to its creator and store ``hash_secret(key)`` (of the whole key) and
    ``prefix``; the prefix is not secret, it lets a person recognise the key in a list.
    """
    prefix = secrets.token_hex(_API_KEY_PREFIX_BYTES)
    key = f"{_API_KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(_API_KEY_SECRET_BYTES)}"
    return key, prefix


def parse_api_key(text: str) -> ApiKeyParts | None:
    """The prefix and secret of an API key; ``None`` if ``text`` is not shaped like one."""
    match = API_KEY_PATTERN.fullmatch(text)
    if match is None:
        return None
    return ApiKeyParts(match["prefix"], match["secret"])


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest of a refresh token or API key, the form they are stored in."""
    # A slow password hash guards low-entropy secrets people choose. These are 256 random bits:
    # no guessing attack can reach them, so a fast hash is as safe, and being deterministic it
    # lets the store find a token by its hash through a unique index.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secrets_equal(a: str, b: str) -> bool:
    """Compare two secrets (or their hashes) in time that does not depend on where they differ."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# Redaction

_REDACTED = "[REDACTED]"
_SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # An Authorization header or field, whatever its scheme.
    (
        re.compile(
            r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic|token)\s+)?"
            r"[^\s\"',;}]+"
        ),
        rf"\1{_REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/-]{8,}=*"), rf"\1{_REDACTED}"),
    # A JWT, or the start of one: base64url of `{"`, then any further segments.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}"), _REDACTED),
    (re.compile(r"\brg_[0-9a-f]{8}_[A-Za-z0-9_-]+"), f"rg_{_REDACTED}"),
    (re.compile(r"\$argon2(?:id|i|d)\$[A-Za-z0-9+/=,$]*"), f"$argon2${_REDACTED}"),
]


def redact(text: str) -> str:
    """``text`` with every JWT, API key, bearer credential and Argon2 hash masked.

    Refresh tokens are bare random strings with no recognisable shape; they are masked only
    where they follow ``Bearer`` or an ``Authorization`` field.
    """
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the message and the traceback of each record.

    Install it on handlers (``handler.addFilter(RedactingFilter())``): a filter on a logger sees
    only records logged on that very logger, not those its child loggers propagate to it.
    It never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # A record whose arguments do not fit its format: the handler reports that itself.
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_redaction(logger_names: tuple[str, ...] = ("", "uvicorn", "ray.serve")) -> None:
    """Put a :class:`RedactingFilter` on every handler of these loggers (once each), so no
    secret that some library logs reaches a log line."""
    for name in logger_names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
