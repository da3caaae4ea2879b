"""Host keys: fetched without trusting them, pinned by an admin, checked with RejectPolicy."""

import base64
import binascii
import socket

import paramiko

from controller.ssh.errors import SshError
from controller.ssh.keys import fingerprint


class HostKeyMismatch(paramiko.SSHException):
    """The host showed a key other than the pinned one."""

    def __init__(self, offered: paramiko.PKey) -> None:
        super().__init__("host key mismatch")
        self.offered = offered


class PinnedOnly(paramiko.RejectPolicy):
    """RejectPolicy that remembers which key it refused, for the alert."""

    def missing_host_key(self, client, hostname, key):
        """Refuse every key not pinned (never added, never saved)."""
        raise HostKeyMismatch(key)


def key_line(key: paramiko.PKey) -> str:
    """A public key as "type base64"."""
    return f"{key.get_name()} {key.get_base64()}"


def parse_key_line(line: str) -> paramiko.PKey:
    """A public key from "type base64 [comment]" (as in known_hosts or *.pub files)."""
    parts = line.strip().split()
    if len(parts) < 2:
        raise ValueError("expected “type base64”")
    try:
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1], validate=True))
    except (binascii.Error, paramiko.SSHException, ValueError, TypeError) as exc:
        raise ValueError("not a public key") from exc


def known_name(host: str, port: int) -> str:
    """The name a host key is filed under (OpenSSH's known_hosts convention)."""
    return host if port == 22 else f"[{host}]:{port}"


def fetch(host: str, port: int, timeout: float) -> paramiko.PKey:
    """The key a host shows, read during key exchange; nothing is trusted or stored."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        raise SshError("connect_timeout") from None
    except (OSError, UnicodeError) as exc:  # UnicodeError: a name IDNA cannot encode
        raise SshError("unreachable", str(exc)) from None
    transport = paramiko.Transport(sock)
    transport.banner_timeout = timeout
    try:
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise SshError(
            "banner_timeout" if "banner" in str(exc) else "ssh_error", str(exc)
        ) from None
    finally:
        transport.close()


def matches(key: paramiko.PKey, wanted: str) -> bool:
    """Whether a key has the fingerprint an admin confirmed."""
    return fingerprint(key) == wanted.strip()
