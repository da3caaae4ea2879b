"""A real test network in network namespaces: clients, a gateway, and an "internet".

    c1 10.77.0.11 ─┐
                   ├─ br0 10.77.0.1 [gw ns: daemon, portal] wan0 ── [net ns] 198.51.100.2
    c2 10.77.0.12 ─┘                                                web, "DNS", controller

The test process talks from inside a namespace by running a function in a thread that has
joined that namespace (setns affects only the calling thread).
"""

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from tests.requirements import need

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
CLONE_NEWNET = 0x40000000
GW_LAN, NET_IP, NET_IP6 = "10.77.0.1", "198.51.100.2", "2001:db8:1::2"
PORTAL_PORT, CONTROLLER_PORT = 8080, 9000
MACS = {"c1": "02:00:00:77:00:11", "c2": "02:00:00:77:00:12"}
IPS = {"c1": "10.77.0.11", "c2": "10.77.0.12"}


def require_netns() -> None:
    """Skip (or fail under TELECENTRE_REQUIRE_ALL=1) without root, ip netns and nft."""
    need(os.geteuid() == 0, "network namespace tests need root")
    need(shutil.which("nft") is not None, "nftables is not installed (apt-get install nftables)")
    need(shutil.which("ip") is not None, "iproute2 is not installed")


def sh(*argv: str, check: bool = True) -> str:
    """Run a command; its stdout."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=20)
    if check and done.returncode:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def in_ns(ns: str, fn, *args, **kwargs):
    """Run fn inside network namespace ns (in a thread of its own); its result."""
    box: dict = {}

    def run() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns failed")
        finally:
            os.close(fd)
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class Browser:
    """A visitor's HTTP client with cookies, run from a client namespace."""

    def __init__(self, lab: "Lab", ns: str) -> None:
        self.lab, self.ns = lab, ns
        self.jar = CookieJar()

    def _open(self, url: str, data: dict | None = None, timeout: float = 2.0):
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with opener.open(url, data=body, timeout=timeout) as resp:
                return resp.status, resp.geturl(), resp.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, url, exc.read().decode(errors="replace")

    def get(self, url: str, timeout: float = 2.0):
        """(status, final URL, body) after redirects; raises OSError when unreachable."""
        return in_ns(self.ns, self._open, url, None, timeout)

    def login(self, code: str | None, method: str = "voucher", lang: str = "en", between=None):
        """Open the splash page as a phone would (via a foreign URL) and submit the form.

        between, when given, runs after the form loaded and before it is submitted.
        """

        def run():
            status, url, page = self._open(f"http://{NET_IP}/probe?lang={lang}")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token, (status, url, page[:300])
            if between is not None:
                between()
            form = {"csrf_token": token.group(1), "method": method, "terms": "yes"}
            if code is not None:
                form["code"] = code
            return self._open(f"http://{GW_LAN}:{PORTAL_PORT}/login", form)

        return in_ns(self.ns, run)

    def online(self, timeout: float = 1.0) -> bool:
        """True when the internet server answers this client itself (not the portal)."""
        try:
            _status, _url, body = self.get(f"http://{NET_IP}:8000/hello", timeout)
        except OSError:
            return False
        return body.startswith("internet")

    def online6(self, timeout: float = 1.0) -> bool:
        """The same over IPv6."""
        try:
            _status, _url, body = self.get(f"http://[{NET_IP6}]:8000/hello", timeout)
        except OSError:
            return False
        return body.startswith("internet")


class Lab:
    """The namespaces, links and processes of one test; `close()` removes all of it."""

    def __init__(self, tmp: Path, policy: dict, vouchers: dict) -> None:
        tag = f"{os.getpid() % 100000}x{int(time.monotonic() * 1000) % 100000}"
        self.ns = {k: f"tc{k}{tag}" for k in ("gw", "net", "c1", "c2")}
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}
        self.files: list = []
        self.state = tmp / "gateway"
        self.controller_conf = tmp / "controller.json"
        self.log = tmp / "controller.log"
        self.controller_conf.write_text(
            json.dumps(
                {
                    "controller_id": "ctl-test",
                    "device_id": 7,
                    "secret": "s" * 32,
                    "token": "tok",
                    "voucher_key": "11" * 32,
                    "pseudonym_salt": "22" * 16,
                    "policy": policy,
                    "vouchers": vouchers,
                    "log": str(self.log),
                }
            )
        )
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def ip(self, ns: str, *args: str) -> str:
        """`ip` inside one of the lab's namespaces."""
        return sh("ip", "-n", self.ns[ns], *args)

    def _build(self) -> None:
        for name in self.ns.values():
            sh("ip", "netns", "add", name)
        gw, net = self.ns["gw"], self.ns["net"]
        sh("ip", "-n", gw, "link", "add", "br0", "type", "bridge")
        self.ip("gw", "addr", "add", f"{GW_LAN}/24", "dev", "br0")
        self.ip("gw", "addr", "add", "fd77::1/64", "dev", "br0", "nodad")
        self.ip("gw", "link", "set", "br0", "up")
        for client in ("c1", "c2"):
            sh(
                "ip",
                "-n",
                gw,
                "link",
                "add",
                f"lan-{client}",
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                self.ns[client],
            )
            self.ip("gw", "link", "set", f"lan-{client}", "master", "br0", "up")
            self.ip(client, "link", "set", "eth0", "address", MACS[client])
            self.ip(client, "addr", "add", f"{IPS[client]}/24", "dev", "eth0")
            self.ip(client, "addr", "add", f"fd77::{client[1]}1/64", "dev", "eth0", "nodad")
            self.ip(client, "link", "set", "eth0", "up")
            self.ip(client, "link", "set", "lo", "up")
            self.ip(client, "route", "add", "default", "via", GW_LAN)
            self.ip(client, "-6", "route", "add", "default", "via", "fd77::1")
        sh(
            "ip",
            "-n",
            gw,
            "link",
            "add",
            "wan0",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            net,
        )
        self.ip("gw", "addr", "add", "198.51.100.1/24", "dev", "wan0")
        self.ip("gw", "addr", "add", "2001:db8:1::1/64", "dev", "wan0", "nodad")
        self.ip("net", "addr", "add", f"{NET_IP}/24", "dev", "eth0")
        self.ip("net", "addr", "add", f"{NET_IP6}/64", "dev", "eth0", "nodad")
        for ns in ("gw", "net"):
            self.ip(ns, "link", "set", "lo", "up")
        self.ip("gw", "link", "set", "wan0", "up")
        self.ip("net", "link", "set", "eth0", "up")
        sh(
            "ip",
            "netns",
            "exec",
            gw,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
        )
        www = self.tmp / "www"
        www.mkdir()
        (www / "hello").write_text("internet says hello\n")
        (www / "big").write_bytes(b"x" * 1_000_000)
        self.spawn(
            "web",
            "net",
            [PY, "-m", "http.server", "--bind", "::", "--directory", str(www), "8000"],
            ready=None,
            port=("net", 8000),
        )
        self.spawn(
            "web80",
            "net",
            [PY, "-m", "http.server", "--bind", "::", "--directory", str(www), "80"],
            ready=None,
            port=("net", 80),
        )
        self.spawn("dns", "net", [PY, "-c", _UDP_ECHO], ready="ready")
        self.start_controller()

    def spawn(
        self,
        name: str,
        ns: str,
        argv: list[str],
        ready: str | None = "ready",
        port: tuple | None = None,
        env: dict | None = None,
    ) -> subprocess.Popen:
        """Start a process in a namespace; wait until it prints `ready` or listens on port."""
        log = open(self.tmp / f"{name}.out", "ab")  # noqa: SIM115 - closed by close()
        self.files.append(log)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns[ns], *argv],
            cwd=ROOT,
            stdout=subprocess.PIPE if ready else log,
            stderr=log,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )
        self.procs[name] = proc
        deadline = time.monotonic() + 15
        if ready:
            line = proc.stdout.readline().decode()
            if ready not in line:
                raise RuntimeError(
                    f"{name} did not start: {(self.tmp / f'{name}.out').read_text()}"
                )
        while port and time.monotonic() < deadline:
            if in_ns(self.ns[port[0]], _listening, port[1]):
                break
            time.sleep(0.05)
        return proc

    def stop(self, name: str) -> None:
        """Stop one process (SIGTERM, then SIGKILL)."""
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout:
            proc.stdout.close()

    def start_controller(self) -> None:
        """The stand-in controller in the internet namespace."""
        self.spawn(
            "controller",
            "net",
            [
                PY,
                "-m",
                "tests.gateway.fake_controller",
                str(self.controller_conf),
                NET_IP,
                str(CONTROLLER_PORT),
            ],
        )

    def start_gateway(self, enroll: bool = True, **conf) -> None:
        """Enrol (first time) and run the real gateway daemon, then the portal."""
        env = {
            "TELECENTRE_GATEWAY_CONFIG": "/nonexistent",
            "TELECENTRE_GATEWAY_SOCKET": str(self.tmp / "gw.sock"),
            "TELECENTRE_GATEWAY_POLL_INTERVAL": "0.3",
            "TELECENTRE_GATEWAY_SYNC_INTERVAL": "0.5",
            "TELECENTRE_GATEWAY_HEARTBEAT_INTERVAL": "0.5",
        }
        env.update({f"TELECENTRE_GATEWAY_{k.upper()}": str(v) for k, v in conf.items()})
        base = [PY, "-m", "agents.gateway.main"]
        if enroll and not (self.state / "identity.json").exists():
            sh(
                "ip",
                "netns",
                "exec",
                self.ns["gw"],
                *base,
                "enroll",
                "--state-dir",
                str(self.state),
                "--controller",
                f"http://{NET_IP}:{CONTROLLER_PORT}",
                "--token",
                "tok",
            )
        self.spawn(
            "gateway",
            "gw",
            [
                *base,
                "run",
                "--state-dir",
                str(self.state),
                "--lan-if",
                "br0",
                "--wan-if",
                "wan0",
                "--portal-port",
                str(PORTAL_PORT),
            ],
            env=env,
        )
        if "portal" not in self.procs:
            self.start_portal()

    def start_portal(self) -> None:
        """The captive portal in the gateway namespace, its key in the test's state dir."""
        self.spawn(
            "portal",
            "gw",
            [
                PY,
                "-m",
                "captive_portal.main",
                "--gateway-socket",
                str(self.tmp / "gw.sock"),
                "--port",
                str(PORTAL_PORT),
                "--state-dir",
                str(self.tmp / "portal"),
                "--url",
                f"http://{GW_LAN}:{PORTAL_PORT}",
            ],
        )

    def records(self) -> list[dict]:
        """What the stand-in controller received, in order."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def close(self) -> None:
        """Stop every process and delete every namespace."""
        for name in list(self.procs):
            self.stop(name)
        for name in self.ns.values():
            sh("ip", "netns", "del", name, check=False)
        for f in self.files:
            f.close()


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET6) as s:
        s.settimeout(0.2)
        return s.connect_ex(("::1", port)) == 0


_UDP_ECHO = """
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", 53))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(512)
    s.sendto(data, peer)
"""


def udp_answer(ns: str, host: str, port: int = 53) -> bool:
    """True when a UDP datagram to host:port comes back (our echo 'resolver')."""

    def run() -> bool:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(0.7)
            s.sendto(b"query", (host, port))
            try:
                return s.recv(512) == b"query"
            except OSError:
                return False

    return in_ns(ns, run)
