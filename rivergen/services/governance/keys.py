"""The keys of ``hash`` masks: HMAC-SHA256 under a key of the dataset's workspace.

Each workspace's key is derived (HKDF-SHA256, its own label, the workspace id as context) from
the key data-source secrets are sealed with (:func:`rivergen.connectors.secrets.sealing_key`):
``RIVERGEN_CONNECTORS__SECRETS_KEY`` when set, else the one derived from
``RIVERGEN_AUTH__JWT_PRIVATE_KEY``, so setting the former to the latter's derived key before
rotating the signing key (docs/operations.md) keeps the digests. Every replica and Ray worker
has the same settings, so equal values give equal digests within a workspace on every path
(masked keys still join and count), and different ones across workspaces; without the secret
no dictionary of candidate values reverses them. Changing that secret changes every hash
mask's digests.

The key is derived where a table is masked (in the compute task) and passed to
:func:`rivergen.services.governance.evaluation.apply_to_table`: it is never part of a
:class:`Governed`, which API responses and job rows carry. No secret, no hash: a mask is never
computed unkeyed.
"""

from __future__ import annotations

from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from rivergen.connectors.secrets import sealing_key
from rivergen.errors import ConfigurationError
from rivergen.services.governance.schemas import Governed
from rivergen.settings import Settings

_LABEL = b"rivergen hash masks v1:"


def _platform_secret(settings: Settings) -> bytes:
    secret = sealing_key(settings)
    if secret is not None:
        return secret
    raise ConfigurationError(
        "hash masks need a secret: set RIVERGEN_CONNECTORS__SECRETS_KEY (or "
        "RIVERGEN_AUTH__JWT_PRIVATE_KEY, which it defaults to)"
    )


def workspace_hash_key(settings: Settings, workspace: UUID) -> bytes:
    """The HMAC key of ``workspace``'s hash masks (32 bytes)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL + workspace.bytes
    ).derive(_platform_secret(settings))


def hash_key(settings: Settings, governed: Governed | None) -> bytes | None:
    """The key ``governed``'s hash masks need (None when it has none)."""
    if governed is None or "hash" not in governed.masked.values():
        return None
    if governed.workspace_id is None:
        raise ConfigurationError(
            f"the governance of dataset {governed.dataset_id} names no workspace: its hash "
            "masks have no key"
        )
    return workspace_hash_key(settings, governed.workspace_id)
