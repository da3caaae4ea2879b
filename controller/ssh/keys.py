"""Private keys: the controller's own ed25519 key pair, and per-device keys kept encrypted."""

import base64
import hashlib
import io
from pathlib import Path

import paramiko
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from agents.common.spool import create_once

KEY_FILE = Path("ssh") / "id_ed25519"
COMMENT = "telecentre-controller"
_KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


class BadKey(ValueError):
    """A private key that cannot be read."""


def key_path(instance_path: str | Path) -> Path:
    """Where the controller's private key lives in the instance folder."""
    return Path(instance_path) / KEY_FILE


def ensure_controller_key(instance_path: str | Path) -> Path:
    """Create the controller's ed25519 key (mode 0600) on first use; return its path.

    Processes starting together never read half a key and only one key ever wins
    (`create_once`).
    """
    path = key_path(instance_path)
    if path.exists():
        return path
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    create_once(path, pem)
    return path


def controller_key(instance_path: str | Path) -> paramiko.PKey:
    """The controller's private key, generated on first use."""
    return load_private_key(ensure_controller_key(instance_path).read_text())


def public_line(key: paramiko.PKey, comment: str = COMMENT) -> str:
    """The authorized_keys line of a key."""
    return f"{key.get_name()} {key.get_base64()} {comment}"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint of a public key ("SHA256:…", no padding)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def load_private_key(text: str) -> paramiko.PKey:
    """Parse an unencrypted private key in OpenSSH or PEM form (ed25519, ECDSA, RSA)."""
    for cls in _KEY_CLASSES:
        try:
            return cls.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError, TypeError, IndexError):
            continue
    raise BadKey("not an unencrypted ed25519, ECDSA or RSA private key")


def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"telecentre ssh device keys"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(secret_key: str, private_key: str) -> str:
    """Encrypt a device's private key with a key derived from the instance secret."""
    return _fernet(secret_key).encrypt(private_key.encode()).decode()


def decrypt(secret_key: str, token: str) -> str:
    """The clear private key of a device (only in memory, only while connecting)."""
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise BadKey("the stored key cannot be decrypted (was SECRET_KEY changed?)") from None
