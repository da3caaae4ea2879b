"""The gateway's nftables table: ruleset text, atomic loads, client elements, counters.

One table of family ``inet`` (IPv4 and IPv6) holds everything. Authorised clients are map
elements, never rules, and a forwarded packet is looked up in one per-client map each way:

- upload: in prerouting, ``clients`` (``ether_addr . ipv4_addr : mark``, and ``clients6`` for
  IPv6) gives an authorised packet its mark and counts its bytes on the element. The mark is
  ``MARK`` plus the client's upload tier (kbytes/s, 0 for none); nat and forward read it, and
  forward's ``up_tiers`` verdict map (one element per tier, not per client) accepts it or
  sends it to its tier's chain.
- download: ``down4``/``down6`` (``ipv4_addr : verdict``) count what flows back to the client
  and accept it, or send it to its download tier's chain.

Every element carries the kernel ``timeout`` of the grant, so a session ends in the kernel
even if the daemon is down.

Per-client rate limits: a tier's chain, e.g. ``up_250``, has the one rule
``update @m_up_250 { ether saddr limit rate over 250 kbytes/second } drop`` (then accept),
which keeps a token bucket per client in a dynamic set: every client has its own bucket, no
rule per client. A tier's set and chain are added the first time a grant uses that rate.
Named ``limit`` objects per client were measured first: with 10,000 clients every nft
transaction had to fetch 20,000 objects into its cache (60 ms per authorisation).

Commands run in-process through libnftables (ctypes) when it is present, else through
``nft -f -``; each call is one transaction: all of it applies or none.
"""

import ctypes
import ctypes.util
import ipaddress
import subprocess
import threading
from dataclasses import dataclass, field

from agents.gateway import netlink

TABLE = "telecentre"
MARK = 0x7E100000  # "authorised", set in prerouting, read by nat and forward
MARK_MASK = 0xFFF00000  # the rest of the mark is the upload tier in kbytes/s (0: none)
MAPS = ("clients", "clients6", "down4", "down6")  # one element per client address, counted


class NftError(RuntimeError):
    """nft refused a command (the transaction was not applied)."""


@dataclass(frozen=True)
class Network:
    """The interfaces and ports the ruleset is built for."""

    lan_if: str
    wan_if: str
    portal_port: int
    portal_tls_port: int | None = None
    garden_v4: tuple[str, ...] = ()
    garden_v6: tuple[str, ...] = ()


@dataclass
class Client:
    """One authorised client as the kernel sees it."""

    mac: str
    ipv4: str
    ipv6: list[str] = field(default_factory=list)
    seconds: int = 3600
    rate_down_kbit: int | None = None
    rate_up_kbit: int | None = None


def _quote_if(name: str) -> str:
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum() or len(name) > 15:
        raise ValueError(f"bad interface name {name!r}")
    return f'"{name}"'


def _cidrs(values, version: int) -> str:
    nets = [ipaddress.ip_network(v, strict=False) for v in values]
    return ", ".join(str(n) for n in nets if n.version == version)


def ruleset(net: Network) -> str:
    """The whole table as one `nft -f` text that replaces any previous version atomically."""
    lan, wan, port = _quote_if(net.lan_if), _quote_if(net.wan_if), int(net.portal_port)
    ports = {port} | ({int(net.portal_tls_port)} if net.portal_tls_port else set())
    local_ports = ", ".join(str(p) for p in sorted(ports | {53}))
    g4, g6 = _cidrs(net.garden_v4, 4), _cidrs(net.garden_v6, 6)
    garden4 = f"elements = {{ {g4} }}" if g4 else ""
    garden6 = f"elements = {{ {g6} }}" if g6 else ""
    guest = f"meta mark & {MARK_MASK:#x} != {MARK:#x}"  # not authorised
    replies = f"iifname {wan} oifname {lan} ct state established,related"
    return f"""table inet {TABLE} {{}}
delete table inet {TABLE}
table inet {TABLE} {{
  map clients {{ type ether_addr . ipv4_addr : mark; flags timeout; counter; }}
  map clients6 {{ type ether_addr . ipv6_addr : mark; flags timeout; counter; }}
  map down4 {{ type ipv4_addr : verdict; flags timeout; counter; }}
  map down6 {{ type ipv6_addr : verdict; flags timeout; counter; }}
  map up_tiers {{ type mark : verdict; elements = {{ {MARK:#x} : accept }} }}
  set garden4 {{ type ipv4_addr; flags interval; {garden4} }}
  set garden6 {{ type ipv6_addr; flags interval; {garden6} }}

  chain mark_clients {{
    type filter hook prerouting priority mangle - 10; policy accept;
    iifname {lan} meta mark set ether saddr . ip saddr map @clients
    iifname {lan} meta mark set ether saddr . ip6 saddr map @clients6
  }}

  chain to_portal {{
    type nat hook prerouting priority dstnat; policy accept;
    iifname {lan} {guest} tcp dport 80 fib daddr type != local redirect to :{port}
  }}

  chain uplink_nat {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname {wan} masquerade
  }}

  chain lan_input {{
    type filter hook input priority filter; policy accept;
    iifname != {lan} accept
    ct state established,related accept
    meta l4proto {{ icmp, ipv6-icmp }} accept
    udp dport {{ 53, 67, 547 }} accept
    tcp dport {{ {local_ports} }} accept
    drop
  }}

  chain lan_forward {{
    type filter hook forward priority filter; policy drop;
    ct state invalid drop
    iifname {lan} oifname {wan} meta mark vmap @up_tiers
    {replies} ip daddr vmap @down4
    {replies} ip6 daddr vmap @down6
    iifname {lan} oifname {wan} ip daddr @garden4 accept
    iifname {lan} oifname {wan} ip6 daddr @garden6 accept
    {replies} ip saddr @garden4 accept
    {replies} ip6 saddr @garden6 accept
  }}
}}
"""


def _kbytes(kbit: int) -> int:
    return min(max(1, int(kbit) // 8), ~MARK_MASK & 0xFFFFFFFF)


def _timeout(seconds: int) -> str:
    return f"timeout {max(1, int(seconds))}s"


def _tiers(c: Client) -> list[tuple[str, int]]:
    return [(d, _kbytes(k)) for d, k in (("up", c.rate_up_kbit), ("down", c.rate_down_kbit)) if k]


def tier_commands(direction: str, kbytes: int) -> str:
    """The chain and dynamic set(s) of one rate tier: a token bucket per client at that rate.

    The chain is entered by `goto` from a verdict map, so it ends by accepting what is under
    the rate. An upload tier also gets its element in ``up_tiers`` (mark → chain).
    """
    limit = f"limit rate over {kbytes} kbytes/second burst {max(kbytes, 64)} kbytes"
    chain = f"{direction}_{kbytes}"
    lines = [f"add chain inet {TABLE} {chain}\n"]
    if direction == "up":
        sets = [("m_up", "ether_addr", "ether saddr")]
    else:
        sets = [("m_down4", "ipv4_addr", "ip daddr"), ("m_down6", "ipv6_addr", "ip6 daddr")]
    for prefix, kind, key in sets:
        name = f"{prefix}_{kbytes}"
        lines.append(
            f"add set inet {TABLE} {name} {{ type {kind}; flags dynamic,timeout; timeout 5m; }}\n"
        )
        lines.append(f"add rule inet {TABLE} {chain} update @{name} {{ {key} {limit} }} drop\n")
    lines.append(f"add rule inet {TABLE} {chain} accept\n")
    if direction == "up":
        lines.append(f"add element inet {TABLE} up_tiers {{ {MARK | kbytes:#x} : goto {chain} }}\n")
    return "".join(lines)


def _elements(c: Client) -> list[tuple[str, str]]:
    """(map, element text) pairs of one client: one per address and direction."""
    t = f" {_timeout(c.seconds)}"
    tiers = dict(_tiers(c))
    mark = f"{MARK | tiers.get('up', 0):#x}"
    down = f"goto down_{tiers['down']}" if "down" in tiers else "accept"
    pairs = [("clients", f"{c.mac} . {c.ipv4}{t} : {mark}"), ("down4", f"{c.ipv4}{t} : {down}")]
    pairs += [("clients6", f"{c.mac} . {a}{t} : {mark}") for a in c.ipv6]
    pairs += [("down6", f"{a}{t} : {down}") for a in c.ipv6]
    return pairs


def add_commands(c: Client, tiers: set | None = None) -> str:
    """Commands that authorise one client; rate tiers not in `tiers` are created first."""
    lines = [tier_commands(d, k) for d, k in _tiers(c) if tiers is None or (d, k) not in tiers]
    for name, element in _elements(c):
        lines.append(f"add element inet {TABLE} {name} {{ {element} }}\n")
    return "".join(lines)


def delete_commands(c: Client) -> str:
    """Commands that remove one client whether or not its elements already timed out.

    nft 1.0.6 has no `destroy`: adding an element that exists (with the same data) is a
    no-op, so "add, then delete" removes it in one transaction without failing on a
    kernel-expired element.
    """
    lines = []
    for name, element in _elements(c):
        key = element.split(" timeout ")[0].split(" : ")[0]
        lines.append(f"add element inet {TABLE} {name} {{ {element} }}\n")
        lines.append(f"delete element inet {TABLE} {name} {{ {key} }}\n")
    return "".join(lines)


class Nft:
    """Runs nft command text as transactions, in-process when libnftables is available."""

    def __init__(self, binary: str = "nft", use_library: bool = True) -> None:
        self.binary = binary
        self._lock = threading.Lock()
        self._lib = self._ctx = None
        self._tiers: set[tuple[str, int]] = set()
        path = ctypes.util.find_library("nftables") if use_library else None
        if path:
            lib = ctypes.CDLL(path)
            lib.nft_ctx_new.restype = ctypes.c_void_p
            lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
            for fn in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
                getattr(lib, fn).restype = ctypes.c_char_p
                getattr(lib, fn).argtypes = [ctypes.c_void_p]
            lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
            lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            self._lib = lib
            self._ctx = lib.nft_ctx_new(0)
            lib.nft_ctx_buffer_output(self._ctx)
            lib.nft_ctx_buffer_error(self._ctx)

    def run(self, text: str) -> str:
        """Apply command text as one transaction; return nft's output."""
        if self._lib is None:
            argv = [self.binary, "-f", "-"]
            done = subprocess.run(argv, input=text, capture_output=True, text=True, check=False)  # noqa: S603
            if done.returncode:
                raise NftError(done.stderr.strip())
            return done.stdout
        ctx = self._ctx
        with self._lock:
            rc = self._lib.nft_run_cmd_from_buffer(ctx, text.encode())
            out = (self._lib.nft_ctx_get_output_buffer(ctx) or b"").decode()
            err = (self._lib.nft_ctx_get_error_buffer(ctx) or b"").decode()
        if rc:
            raise NftError(err.strip() or f"nft failed ({rc})")
        return out

    def load(self, net: Network, clients: list[Client] = ()) -> None:
        """Replace the table and put the given clients back, all in one transaction."""
        tiers = {t for c in clients for t in _tiers(c)}
        text = "".join(tier_commands(d, k) for d, k in sorted(tiers))
        by_set: dict[str, list[str]] = {}
        for c in clients:
            for name, element in _elements(c):
                by_set.setdefault(name, []).append(element)
        for name, elements in by_set.items():  # one command per set: parsed far faster
            for i in range(0, len(elements), 5000):
                chunk = ", ".join(elements[i : i + 5000])
                text += f"add element inet {TABLE} {name} {{ {chunk} }}\n"
        self.run(ruleset(net) + text)
        self._tiers = tiers

    def authorise(self, client: Client) -> None:
        """Add one client (and its rate tier, the first time that rate is granted)."""
        self.run(add_commands(client, self._tiers))
        self._tiers.update(_tiers(client))

    def deauthorise(self, client: Client) -> None:
        """Remove one client (idempotent)."""
        self.run(delete_commands(client))

    def counters(self) -> dict[tuple[str, str], int]:
        """Bytes per element: {(map, element key): bytes}, keys as in `Client` (mac . ip / ip).

        One netlink dump per map (agents/gateway/netlink.py), not `nft list map`: nft
        formats every element as text first, which cost most of a poll at 10,000 clients.
        """
        out: dict[tuple[str, str], int] = {}
        for name in MAPS:
            try:
                found = netlink.counters(TABLE, name)
            except OSError as exc:
                raise NftError(f"reading the counters of {name}: {exc}") from exc
            out.update(((name, key), n) for key, n in found.items())
        return out

    def remove(self) -> None:
        """Delete the table (gateway shut down for good)."""
        self.run(f"table inet {TABLE} {{}}\ndelete table inet {TABLE}\n")
