"""One SSH connection to one host: strict host key, timeouts, capped output, SFTP push.

A client belongs to the thread that opened it and serves one host; it is never shared.
"""

import hashlib
import logging
import secrets
import shlex
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import paramiko

from controller.ssh.errors import SshError
from controller.ssh.hostkeys import HostKeyMismatch, PinnedOnly, known_name
from controller.ssh.keys import fingerprint

# Failures are reported per host; paramiko's own tracebacks would only be noise on stderr.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
_POLL = 0.2  # how often a waiting command checks its deadline and the cancel flag


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed for each phase."""

    connect: float = 10
    banner: float = 10
    auth: float = 10
    command: float = 300


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom to connect, and the one host key accepted."""

    host: str
    port: int
    username: str
    pkey: paramiko.PKey
    host_key: paramiko.PKey

    @property
    def address(self) -> str:
        """user@host:port, for people."""
        return f"{self.username}@{self.host}:{self.port}"


@dataclass
class Result:
    """What a command did."""

    exit_code: int
    output: str


def _never() -> bool:
    return False


class Connection:
    """An authenticated SSH connection to one host, used by one thread."""

    def __init__(self, endpoint: Endpoint, timeouts: Timeouts) -> None:
        self.endpoint, self.timeouts = endpoint, timeouts
        self.client = _connect(endpoint, timeouts)

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self.client.close()

    def run(self, command: str, limit: int, cancelled: Callable[[], bool] = _never,
            timeout: float | None = None) -> Result:  # fmt: skip
        """Run a command (stderr folded into stdout); raise on timeout, cancel or flood."""
        deadline = time.monotonic() + (timeout or self.timeouts.command)
        try:
            chan = self.client.get_transport().open_session(timeout=self.timeouts.auth)
            chan.set_combine_stderr(True)
            chan.settimeout(_POLL)
            chan.exec_command(command)
        except (paramiko.SSHException, OSError) as exc:
            raise SshError("ssh_error", str(exc)) from None
        out = bytearray()
        try:
            while True:
                try:
                    data = chan.recv(65536)
                except TimeoutError:
                    data = None
                if data:
                    out += data
                    if len(out) > limit:
                        raise SshError("output_limit", f"more than {limit} bytes")
                    continue
                if data == b"" and chan.exit_status_ready():
                    break
                if data == b"":  # output closed, the command still runs
                    chan.status_event.wait(_POLL)
                if time.monotonic() > deadline:
                    raise SshError("command_timeout", _tail(out))
                if cancelled():
                    raise SshError("cancelled", _tail(out))
            return Result(chan.recv_exit_status(), out.decode("utf-8", "replace"))
        except (paramiko.SSHException, OSError) as exc:
            raise SshError("ssh_error", str(exc)) from None
        finally:
            chan.close()

    def push(self, data: bytes, path: str, mode: int) -> str:
        """Write a file over SFTP, verify its sha256 on the host, then move it into place."""
        expected = hashlib.sha256(data).hexdigest()
        tmp = f"{path}.telecentre-{secrets.token_hex(4)}"
        try:
            sftp = self.client.open_sftp()
            sftp.get_channel().settimeout(self.timeouts.command)
            try:
                with sftp.open(tmp, "wb") as fh:
                    fh.set_pipelined(True)
                    fh.write(data)
                sftp.chmod(tmp, mode)
                got = self._remote_sha256(sftp, tmp)
                if got != expected:
                    sftp.remove(tmp)
                    raise SshError("checksum_mismatch", f"sent {expected}, host has {got}")
                try:
                    sftp.posix_rename(tmp, path)
                except OSError:
                    sftp.rename(tmp, path)
            finally:
                sftp.close()
        except (paramiko.SSHException, OSError) as exc:
            raise SshError("ssh_error", str(exc)) from None
        return expected

    def _remote_sha256(self, sftp, tmp: str) -> str:
        """The file's checksum computed by the host itself (read back when it has no tool)."""
        result = self.run(f"sha256sum {shlex.quote(tmp)}", limit=4096, timeout=60)
        if result.exit_code == 0 and result.output.split():
            return result.output.split()[0]
        with sftp.open(tmp, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()


def _tail(out: bytearray, size: int = 2000) -> str:
    return bytes(out[-size:]).decode("utf-8", "replace")


def _connect(endpoint: Endpoint, timeouts: Timeouts) -> paramiko.SSHClient:
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeouts.connect)
    except TimeoutError:
        raise SshError("connect_timeout") from None
    except (OSError, UnicodeError) as exc:  # UnicodeError: a name IDNA cannot encode
        raise SshError("unreachable", str(exc)) from None
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(PinnedOnly())
    pinned = endpoint.host_key
    client.get_host_keys().add(known_name(endpoint.host, endpoint.port), pinned.get_name(), pinned)
    try:
        client.connect(
            endpoint.host, endpoint.port, endpoint.username, pkey=endpoint.pkey, sock=sock,
            timeout=timeouts.banner + timeouts.auth, banner_timeout=timeouts.banner,
            auth_timeout=timeouts.auth, allow_agent=False, look_for_keys=False,
        )  # fmt: skip
        return client
    except (HostKeyMismatch, paramiko.BadHostKeyException) as exc:
        offered = exc.offered if isinstance(exc, HostKeyMismatch) else exc.key
        client.close()
        raise SshError("host_key_changed", fingerprint(offered)) from None
    except paramiko.AuthenticationException as exc:
        client.close()
        raise SshError("auth_failed", str(exc)) from None
    except (paramiko.SSHException, OSError, EOFError) as exc:
        client.close()
        code = "banner_timeout" if "banner" in str(exc) else "ssh_error"
        raise SshError(code, str(exc) or type(exc).__name__) from None
