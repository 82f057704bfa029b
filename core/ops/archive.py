"""The backup archive's shared parts: its manifest, its errors, and the encryption of secrets
with a passphrase.

An archive is a gzipped tar holding ``edgewise-backup.json`` (the manifest: format, versions,
each database's place and schema version, a SHA-256 of every other member), ``config/`` (the
configuration directory with ``.storage``, without databases or secrets), ``<name>.db`` for each
SQLite database an integration names through ``edgewise_backup_databases`` (copied through
SQLite's online backup; see ``databases.py``) and, on request, ``secrets.yaml.enc``
(``secrets.yaml`` encrypted with Fernet under a key derived from a passphrase by scrypt).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Any

from core.errors import EdgewiseError

from .const import SCRYPT_N, SCRYPT_P, SCRYPT_R

#: The environment variable a passphrase may come from (instead of a file or a prompt).
PASSPHRASE_ENV = "EDGEWISE_BACKUP_PASSPHRASE"  # noqa: S105 - a variable name, not a secret


class BackupError(EdgewiseError):
    """A backup cannot be made, or an archive cannot be restored; the message says why."""


@dataclass(frozen=True, slots=True)
class EncryptedSecrets:
    """``secrets.yaml`` encrypted: the Fernet token and the scrypt parameters of its key."""

    token: bytes
    kdf: dict[str, Any] = field(default_factory=dict)


def _fernet_key(passphrase: str, kdf: dict[str, Any]) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt  # noqa: PLC0415 - on demand

    salt = base64.b64decode(kdf["salt"])
    derived = Scrypt(salt=salt, length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(
        passphrase.encode()
    )
    return base64.urlsafe_b64encode(derived)


def encrypt_secrets(data: bytes, passphrase: str) -> EncryptedSecrets:
    """Encrypt ``data`` under ``passphrase`` (scrypt, then Fernet: AES-128-CBC with HMAC)."""
    from cryptography.fernet import Fernet  # noqa: PLC0415 - on demand

    kdf: dict[str, Any] = {
        "name": "scrypt",
        "salt": base64.b64encode(os.urandom(16)).decode(),
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
    }
    return EncryptedSecrets(Fernet(_fernet_key(passphrase, kdf)).encrypt(data), kdf)


def decrypt_secrets(secrets: EncryptedSecrets, passphrase: str) -> bytes:
    """The plain ``secrets.yaml``; ``BackupError`` for a wrong passphrase or damaged data."""
    from cryptography.fernet import Fernet, InvalidToken  # noqa: PLC0415 - on demand

    if secrets.kdf.get("name") != "scrypt":
        raise BackupError(f"Unknown key derivation for the secrets: {secrets.kdf.get('name')}")
    try:
        return Fernet(_fernet_key(passphrase, secrets.kdf)).decrypt(secrets.token)
    except (InvalidToken, KeyError, ValueError, TypeError) as err:
        raise BackupError(
            "The passphrase does not decrypt the backup's secrets (wrong passphrase?)"
        ) from err


def version_tuple(version: str) -> tuple[int, ...]:
    """``"0.1.0"`` as ``(0, 1, 0)``; a non-numeric part (``rc1``) counts as 0."""
    parts = []
    for part in version.split("."):
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)
