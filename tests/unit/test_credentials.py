from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import argon2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.utils import base64url_decode, base64url_encode
from pydantic import BaseModel, ValidationError

from rivergen.accounts.credentials import (
    API_KEY_PATTERN,
    DUMMY_PASSWORD_HASH,
    Password,
    PasswordHasher,
    RedactingFilter,
    TokenSigner,
    generate_private_key_pem,
    hash_password,
    hash_secret,
    needs_rehash,
    new_api_key,
    new_refresh_token,
    parse_api_key,
    public_key_pem,
    redact,
    secrets_equal,
    validate_password,
    verify_dummy,
    verify_password,
)
from rivergen.errors import ConfigurationError, Unauthorized
from rivergen.settings import AuthSettings

ISSUER = "rivergen"
AUDIENCE = "rivergen-api"
PRIVATE_PEM = generate_private_key_pem()
PUBLIC_PEM = public_key_pem(PRIVATE_PEM)
HEADERS = {"typ": "at+jwt"}


def _private_key() -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(PRIVATE_PEM.encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


PRIVATE_KEY = _private_key()


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(PRIVATE_PEM, issuer=ISSUER, audience=AUDIENCE, ttl_s=3600)


def _claims(**changes: Any) -> dict[str, Any]:
    """A claim set the signer would accept; `changes` overrides (None removes a claim)."""
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "jti-1",
        "sid": "session-1",
        "ws": "workspace-1",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _segment(data: dict[str, Any]) -> bytes:
    return base64url_encode(json.dumps(data, separators=(",", ":")).encode())


def _hs256_with_public_key() -> str:
    # PyJWT refuses a PEM key as an HMAC secret (see the test below), so the attacker's token
    # is put together by hand, the way an attacker would.
    signing_input = _segment({"alg": "HS256", "typ": "at+jwt"}) + b"." + _segment(_claims())
    signature = hmac.new(PUBLIC_PEM.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64url_encode(signature)).decode()


def _rs256_with_another_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(_claims(), key, algorithm="RS256", headers=HEADERS)


def _tampered_payload(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64url_decode(payload))
    claims["sub"] = "admin"
    return ".".join([header, _segment(claims).decode(), signature])


def _flipped_char(token: str, segment: int) -> str:
    parts = token.split(".")
    chars = list(parts[segment])
    # The middle of a segment: the last character may only carry padding bits.
    middle = len(chars) // 2
    chars[middle] = "A" if chars[middle] != "A" else "B"
    parts[segment] = "".join(chars)
    return ".".join(parts)


def _own(claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
    """Signed with the right key and algorithm: only the content is wrong."""
    return jwt.encode(claims, PRIVATE_KEY, algorithm="EdDSA", headers=headers or HEADERS)


def _good(signer: TokenSigner) -> str:
    return signer.issue("user-1", "workspace-1", "session-1")


BAD_TOKENS: dict[str, Callable[[TokenSigner], str]] = {
    "alg_none": lambda _: jwt.encode(
        _claims(),
        None,  # type: ignore[arg-type]  # the `none` algorithm takes no key
        algorithm="none",
        headers=HEADERS,
    ),
    "hs256_public_key_as_secret": lambda _: _hs256_with_public_key(),
    "hs256_random_secret": lambda _: jwt.encode(
        _claims(), secrets.token_bytes(32), algorithm="HS256", headers=HEADERS
    ),
    "rs256_another_key": lambda _: _rs256_with_another_key(),
    "eddsa_another_key": lambda _: TokenSigner(
        generate_private_key_pem(), ISSUER, AUDIENCE, 3600
    ).issue("user-1", None, "session-1"),
    "nbf_in_future": lambda _: _own(_claims(nbf=int(datetime.now(UTC).timestamp()) + 3600)),
    "issued_in_future": lambda s: s.issue(
        "user-1", None, "session-1", now=datetime.now(UTC) + timedelta(hours=1)
    ),
    "wrong_issuer": lambda _: TokenSigner(PRIVATE_PEM, "someone-else", AUDIENCE, 3600).issue(
        "user-1", None, "session-1"
    ),
    "wrong_audience": lambda _: TokenSigner(PRIVATE_PEM, ISSUER, "another-api", 3600).issue(
        "user-1", None, "session-1"
    ),
    "tampered_payload": lambda s: _tampered_payload(_good(s)),
    "flipped_payload_char": lambda s: _flipped_char(_good(s), 1),
    "tampered_signature": lambda s: _flipped_char(_good(s), 2),
    "signature_stripped": lambda s: _good(s).rsplit(".", 1)[0] + ".",
    "missing_exp": lambda _: _own(_claims(exp=None)),
    "missing_sub": lambda _: _own(_claims(sub=None)),
    "missing_sid": lambda _: _own(_claims(sid=None)),
    "sub_not_a_string": lambda _: _own(_claims(sub=42)),
    "wrong_type_header": lambda _: _own(_claims(), headers={"typ": "JWT"}),
    "random_string": lambda _: secrets.token_urlsafe(40),
    "empty": lambda _: "",
    "three_dots_of_garbage": lambda _: "eyJ.eyJ.sig",
    "header_not_an_object": lambda _: base64url_encode(b"[1]").decode() + ".e30.c2ln",
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_refused_tokens_are_unauthorized(signer: TokenSigner, case: str) -> None:
    token = BAD_TOKENS[case](signer)
    with pytest.raises(Unauthorized) as caught:
        signer.verify(token)
    assert caught.value.error_code == "invalid_token"
    assert caught.value.status == 401


def test_expired_token_says_so(signer: TokenSigner) -> None:
    token = signer.issue("user-1", None, "session-1", now=datetime.now(UTC) - timedelta(hours=2))
    with pytest.raises(Unauthorized) as caught:
        signer.verify(token)
    assert caught.value.error_code == "token_expired"


def test_pyjwt_refuses_a_pem_key_as_hmac_secret() -> None:
    with pytest.raises(jwt.InvalidKeyError):
        jwt.encode(_claims(), PUBLIC_PEM, algorithm="HS256")


def test_valid_token_verifies_with_its_claims(signer: TokenSigner) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    token = signer.issue("user-1", "workspace-1", "session-1", now=now)
    claims = signer.verify(token)
    assert (claims.user_id, claims.workspace_id, claims.session_id) == (
        "user-1",
        "workspace-1",
        "session-1",
    )
    assert (claims.iss, claims.aud) == (ISSUER, AUDIENCE)
    assert claims.iat == claims.nbf == int(now.timestamp())
    assert claims.exp == claims.iat + 3600
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "typ": "at+jwt"}
    assert signer.verify(signer.issue("user-1", None, "s")).workspace_id is None
    assert signer.verify(token).jti != signer.verify(_good(signer)).jti


def test_token_verifies_with_the_public_key_alone(signer: TokenSigner) -> None:
    claims = jwt.decode(_good(signer), PUBLIC_PEM, algorithms=["EdDSA"], audience=AUDIENCE)
    assert claims["sub"] == "user-1"


def test_signer_rejects_a_naive_now(signer: TokenSigner) -> None:
    with pytest.raises(ValueError, match="timezone"):
        signer.issue("user-1", None, "s", now=datetime(2025, 1, 1))


def test_signer_needs_an_ed25519_key() -> None:
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    for pem in (rsa_pem, "not a key"):
        with pytest.raises(ConfigurationError):
            TokenSigner(pem, ISSUER, AUDIENCE, 3600)


def test_signer_from_settings() -> None:
    with pytest.raises(ConfigurationError):
        TokenSigner.from_settings(AuthSettings())
    signer = TokenSigner.from_settings(AuthSettings(jwt_private_key=PRIVATE_PEM))
    assert signer.verify(_good(signer)).iss == "rivergen"


# Passwords


def test_password_hash_and_verify() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert hashed != hash_password("correct horse battery")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse battery!")
    assert not verify_password("not a hash", "correct horse battery")
    assert not verify_password("", "")
    assert not needs_rehash(hashed)


def test_weaker_parameters_need_a_rehash() -> None:
    cheap = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    old = cheap.hash("correct horse battery")
    assert verify_password(old, "correct horse battery")
    assert needs_rehash(old)
    assert needs_rehash("not a hash")


def test_dummy_hash_costs_what_a_real_check_costs() -> None:
    # Same parameters as fresh hashes: the same work per check.
    assert not needs_rehash(DUMMY_PASSWORD_HASH)
    verify_dummy("anything at all")
    assert not verify_password(DUMMY_PASSWORD_HASH, "anything at all")


def test_hasher_with_other_parameters_makes_its_own_dummy() -> None:
    hasher = PasswordHasher(argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    assert hasher.needs_rehash(DUMMY_PASSWORD_HASH)
    assert not hasher.needs_rehash(hasher._dummy_hash)
    hasher.verify_dummy("anything at all")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 10"),
        ("x" * 257, "at most 256"),
        (" " * 12, "whitespace"),
        ("\t\n" * 6, "whitespace"),
    ],
)
def test_password_policy_refusals(password: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_password(password)


def test_password_policy_in_a_pydantic_model() -> None:
    class Body(BaseModel):
        password: Password

    assert Body(password="ten chars!").password == "ten chars!"
    assert Body(password="x" * 256).password == "x" * 256
    with pytest.raises(ValidationError, match="at least 10"):
        Body(password="short")


# Refresh tokens and API keys


def test_refresh_tokens_are_random_and_url_safe() -> None:
    tokens = {new_refresh_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(token) == 43
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_api_key_format_and_parse() -> None:
    key, prefix = new_api_key()
    assert API_KEY_PATTERN.fullmatch(key)
    assert key.startswith(f"rg_{prefix}_")
    parts = parse_api_key(key)
    assert parts is not None
    assert parts.prefix == prefix
    assert key == f"rg_{parts.prefix}_{parts.secret}"
    assert new_api_key()[0] != key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "rg_",
        "rg_0123abcd_short",
        "xx_0123abcd_" + "A" * 43,
        "rg_0123ABCD_" + "A" * 43,
        "rg_0123abcd_" + "A" * 44,
        " rg_0123abcd_" + "A" * 43,
        "rg_0123abcd_" + "A" * 42 + "!",
        "Bearer rg_0123abcd_" + "A" * 43,
    ],
)
def test_parse_api_key_refuses_other_shapes(text: str) -> None:
    assert parse_api_key(text) is None


def test_hash_secret_and_compare() -> None:
    key, _ = new_api_key()
    digest = hash_secret(key)
    assert digest == hashlib.sha256(key.encode()).hexdigest()
    assert len(digest) == 64 and digest == hash_secret(key)
    assert digest != hash_secret(new_api_key()[0])
    assert secrets_equal(digest, hash_secret(key))
    assert not secrets_equal(digest, hash_secret(key + "x"))
    assert not secrets_equal("é", "e")


# Redaction


def test_redact_masks_each_secret_kind(signer: TokenSigner) -> None:
    token = _good(signer)
    key, _ = new_api_key()
    hashed = hash_password("correct horse battery")
    refresh = new_refresh_token()
    samples = {
        "jwt": f"issued {token} to user",
        "jwt_header_only": f"header {token.split('.')[0]} seen",
        "api_key": f"key={key} used",
        "bearer": f"got Bearer {refresh} from client",
        "authorization": f"headers {{'authorization': 'Bearer {refresh}'}}",
        "authorization_basic": "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        "argon2": f"row password_hash={hashed} loaded",
    }
    secrets_in = {
        "jwt": [token, token.split(".")[1], token.split(".")[2]],
        "jwt_header_only": [token.split(".")[0]],
        "api_key": [key, key.split("_", 2)[2]],
        "bearer": [refresh],
        "authorization": [refresh],
        "authorization_basic": ["dXNlcjpwYXNzd29yZA"],
        "argon2": [hashed, hashed.rsplit("$", 1)[1], hashed.rsplit("$", 2)[1]],
    }
    for kind, text in samples.items():
        masked = redact(text)
        assert "[REDACTED]" in masked, kind
        for secret in secrets_in[kind]:
            assert secret not in masked, kind


@pytest.mark.parametrize(
    "text",
    [
        "dataset 3f2a uploaded by user 42 in 1.5s",
        "basic setup done; bearer token missing from request",
        "authorization failed for user 7",
        "rg_prefix is a column; eye drops; $argon2 is a hash family",
        "GET /v1/datasets?limit=10 200",
    ],
)
def test_redact_leaves_normal_text_alone(text: str) -> None:
    assert redact(text) == text


def test_logging_filter_masks_messages_arguments_and_tracebacks(signer: TokenSigner) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("rivergen.test_credentials")
    logger.addHandler(handler)
    logger.propagate = False
    token = _good(signer)
    key, _ = new_api_key()
    try:
        logger.warning("login with %s and %s", token, key)
        logger.warning("plain %d", 7)
        try:
            raise RuntimeError(f"bad token {token}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    output = stream.getvalue()
    assert token not in output and key not in output
    assert token.split(".")[1] not in output
    assert "login with [REDACTED] and rg_[REDACTED]" in output
    assert "plain 7" in output
    assert "RuntimeError: bad token [REDACTED]" in output


def test_install_redaction_masks_what_a_library_logs() -> None:
    import io

    from rivergen.accounts.credentials import install_redaction

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("rivergen-redaction-probe")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        install_redaction(("rivergen-redaction-probe",))
        install_redaction(("rivergen-redaction-probe",))  # once per handler
        assert len(handler.filters) == 1
        logger.warning("header was Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl")
        assert "eyJ" not in stream.getvalue()
    finally:
        logger.removeHandler(handler)
