"""Real OpenSSH servers on loopback for tests and the benchmark, and a silent TCP listener."""

import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def available() -> tuple[bool, str]:
    """Whether real sshd servers can be started here (and why not)."""
    if not os.path.exists(SSHD):
        return False, "Debian's openssh-server is not installed (/usr/sbin/sshd)"
    if os.geteuid() != 0:
        return False, "sshd test servers need root"
    return True, ""


def free_ports(n: int) -> list[int]:
    """n currently free loopback ports (bound together, so they differ)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Sshd:
    """An sshd with its own host key, listening on one or more loopback ports.

    With `netns` it runs inside that network namespace (`ip netns exec`, which also mounts
    the namespace's own /sys) and listens on `address` there.
    """

    def __init__(
        self,
        folder: Path,
        authorized: list[str],
        ports: int = 1,
        address: str = "127.0.0.1",
        netns: str | None = None,
    ) -> None:
        self.folder = folder
        self.address, self.netns = address, netns
        folder.mkdir(parents=True, exist_ok=True)
        self.host_key = folder / "ssh_host_ed25519_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)],
                       check=True)  # fmt: skip
        self.public_key = (folder / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        (folder / "authorized_keys").write_text("\n".join(authorized) + "\n")
        self.ports = free_ports(ports)
        config = [f"Port {p}" for p in self.ports] + [
            f"ListenAddress {address}",
            f"HostKey {self.host_key}",
            f"PidFile {folder / 'sshd.pid'}",
            f"AuthorizedKeysFile {folder / 'authorized_keys'}",
            "UsePAM no",
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "MaxStartups 400:30:800",
            "MaxSessions 50",
            "UseDNS no",
            "LogLevel ERROR",
            "Subsystem sftp internal-sftp",
        ]
        (folder / "sshd_config").write_text("\n".join(config) + "\n")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        wrap = ["ip", "netns", "exec", netns] if netns else []
        with open(folder / "sshd.log", "wb") as log:
            self.proc = subprocess.Popen(
                [*wrap, SSHD, "-D", "-e", "-f", str(folder / "sshd_config")],
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        self._wait()

    @property
    def port(self) -> int:
        """The first port."""
        return self.ports[0]

    @property
    def key_line(self) -> str:
        """The host's public key as "type base64"."""
        return " ".join(self.public_key)

    def _wait(self) -> None:
        deadline = time.monotonic() + 10
        pending = set(self.ports)
        while pending and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.folder / "sshd.log").read_text())
            for port in list(pending):
                if self._answers(port):
                    pending.discard(port)
                else:
                    time.sleep(0.05)
        if pending:
            raise RuntimeError(f"sshd did not listen on {sorted(pending)}")

    def _answers(self, port: int) -> bool:
        def connect() -> bool:
            try:
                socket.create_connection((self.address, port), timeout=0.5).close()
            except OSError:
                return False
            return True

        if self.netns is None:
            return connect()
        from tests.gateway.netlab import in_ns

        return in_ns(self.netns, connect)

    def stop(self) -> None:
        """Stop the server."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


class Silent:
    """A TCP listener that accepts connections and never says anything (no SSH banner)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def stop(self) -> None:
        """Close the listener and every held connection."""
        self.sock.close()
        for conn in self.held:
            conn.close()
