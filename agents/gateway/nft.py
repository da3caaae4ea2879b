"""The gateway's nftables table: ruleset text, atomic loads, client elements, counters.

One table of family ``inet`` (IPv4 and IPv6) holds everything. Authorised clients are set
elements, never rules: ``clients`` (``ether_addr . ipv4_addr``) and ``clients6``
(``ether_addr . ipv6_addr``) are looked up once per packet in prerouting, which marks the
packet as authorised and counts its bytes on the element (upload); ``down4``/``down6`` count
what flows back to the client (download). Every element carries the kernel ``timeout`` of the
grant, so a session ends in the kernel even if the daemon is down.

Per-client rate limits: a client's address maps (``rate_up4``/``rate_up6``/``rate_down4``/
``rate_down6``, verdict maps) to the chain of its rate tier, e.g. ``up_250``, whose one rule
``update @m_up_250 { ether saddr limit rate over 250 kbytes/second } drop`` keeps a token
bucket per client in a dynamic set: every client has its own bucket, one lookup per packet,
no rule per client. A tier's set and chain are added the first time a grant uses that rate.
Named ``limit`` objects per client were measured first: with 10,000 clients every nft
transaction had to fetch 20,000 objects into its cache (60 ms per authorisation).

Commands run in-process through libnftables (ctypes) when it is present, else through
``nft -f -``; each call is one transaction: all of it applies or none.
"""

import ctypes
import ctypes.util
import ipaddress
import json
import subprocess
import threading
from dataclasses import dataclass, field

TABLE = "telecentre"
MARK = 0x7E1  # "authorised", set in prerouting, read by nat and forward
SETS = ("clients", "clients6", "down4", "down6")
_JSON_FLAG = 1 << 4  # NFT_CTX_OUTPUT_JSON


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
    return f"""table inet {TABLE} {{}}
delete table inet {TABLE}
table inet {TABLE} {{
  set clients {{ type ether_addr . ipv4_addr; flags timeout; counter; }}
  set clients6 {{ type ether_addr . ipv6_addr; flags timeout; counter; }}
  set down4 {{ type ipv4_addr; flags timeout; counter; }}
  set down6 {{ type ipv6_addr; flags timeout; counter; }}
  map rate_up4 {{ type ipv4_addr : verdict; flags timeout; }}
  map rate_up6 {{ type ipv6_addr : verdict; flags timeout; }}
  map rate_down4 {{ type ipv4_addr : verdict; flags timeout; }}
  map rate_down6 {{ type ipv6_addr : verdict; flags timeout; }}
  set garden4 {{ type ipv4_addr; flags interval; {garden4} }}
  set garden6 {{ type ipv6_addr; flags interval; {garden6} }}

  chain mark_clients {{
    type filter hook prerouting priority mangle - 10; policy accept;
    iifname {lan} ether saddr . ip saddr @clients meta mark set {MARK:#x}
    iifname {lan} ether saddr . ip6 saddr @clients6 meta mark set {MARK:#x}
  }}

  chain to_portal {{
    type nat hook prerouting priority dstnat; policy accept;
    iifname {lan} meta mark != {MARK:#x} tcp dport 80 fib daddr type != local redirect to :{port}
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
    iifname {lan} oifname {wan} meta mark {MARK:#x} goto from_client
    iifname {wan} oifname {lan} ct state established,related goto to_client
    iifname {lan} oifname {wan} ip daddr @garden4 accept
    iifname {lan} oifname {wan} ip6 daddr @garden6 accept
    iifname {wan} oifname {lan} ct state established,related ip saddr @garden4 accept
    iifname {wan} oifname {lan} ct state established,related ip6 saddr @garden6 accept
  }}

  chain from_client {{
    ip saddr vmap @rate_up4
    ip6 saddr vmap @rate_up6
    accept
  }}

  chain to_client {{
    ip daddr vmap @rate_down4
    ip6 daddr vmap @rate_down6
    ip daddr @down4 accept
    ip6 daddr @down6 accept
    ip saddr @garden4 accept
    ip6 saddr @garden6 accept
  }}
}}
"""


def _kbytes(kbit: int) -> int:
    return max(1, int(kbit) // 8)


def _timeout(seconds: int) -> str:
    return f"timeout {max(1, int(seconds))}s"


def _tiers(c: Client) -> list[tuple[str, int]]:
    return [(d, _kbytes(k)) for d, k in (("up", c.rate_up_kbit), ("down", c.rate_down_kbit)) if k]


def tier_commands(direction: str, kbytes: int) -> str:
    """The dynamic set and chain of one rate tier: a token bucket per client at that rate."""
    limit = f"limit rate over {kbytes} kbytes/second burst {max(kbytes, 64)} kbytes"
    chain = f"add chain inet {TABLE} {direction}_{kbytes}\n"
    if direction == "up":
        sets = [("m_up", "ether_addr", "ether saddr")]
    else:
        sets = [("m_down4", "ipv4_addr", "ip daddr"), ("m_down6", "ipv6_addr", "ip6 daddr")]
    lines = [chain]
    for prefix, kind, key in sets:
        name = f"{prefix}_{kbytes}"
        lines.append(
            f"add set inet {TABLE} {name} {{ type {kind}; flags dynamic,timeout; timeout 5m; }}\n"
        )
        lines.append(
            f"add rule inet {TABLE} {direction}_{kbytes} update @{name} {{ {key} {limit} }} drop\n"
        )
    return "".join(lines)


def _elements(c: Client, with_timeout: bool = True) -> list[tuple[str, str]]:
    """(set, element text) pairs of one client."""
    t = f" {_timeout(c.seconds)}" if with_timeout else ""
    pairs = [("clients", f"{c.mac} . {c.ipv4}{t}"), ("down4", f"{c.ipv4}{t}")]
    pairs += [("clients6", f"{c.mac} . {a}{t}") for a in c.ipv6]
    pairs += [("down6", f"{a}{t}") for a in c.ipv6]
    for direction, kbytes in _tiers(c):
        verdict = f"jump {direction}_{kbytes}"
        pairs.append((f"rate_{direction}4", f"{c.ipv4}{t} : {verdict}"))
        pairs += [(f"rate_{direction}6", f"{a}{t} : {verdict}") for a in c.ipv6]
    return pairs


def add_commands(c: Client, tiers: set | None = None) -> str:
    """Commands that authorise one client; rate tiers not in `tiers` are created first."""
    lines = [tier_commands(d, k) for d, k in _tiers(c) if tiers is None or (d, k) not in tiers]
    for name, element in _elements(c):
        lines.append(f"add element inet {TABLE} {name} {{ {element} }}\n")
    return "".join(lines)


def delete_commands(c: Client) -> str:
    """Commands that remove one client whether or not its elements already timed out.

    nft 1.0.6 has no `destroy`: adding an element that exists is a no-op, so "add, then
    delete" removes it in one transaction without failing on a kernel-expired element.
    """
    lines = []
    for name, element in _elements(c):
        bare = element.split(" timeout ")[0]
        lines.append(f"add element inet {TABLE} {name} {{ {element} }}\n")
        lines.append(f"delete element inet {TABLE} {name} {{ {bare} }}\n")
    return "".join(lines)


class Nft:
    """Runs nft command text as transactions, in-process when libnftables is available."""

    def __init__(self, binary: str = "nft", use_library: bool = True) -> None:
        self.binary = binary
        self._lock = threading.Lock()
        self._lib = self._ctx = self._json_ctx = None
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
            lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
            lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            self._lib = lib
            self._ctx = self._new_ctx(0)
            self._json_ctx = self._new_ctx(_JSON_FLAG)

    def _new_ctx(self, flags: int):
        ctx = self._lib.nft_ctx_new(0)
        self._lib.nft_ctx_buffer_output(ctx)
        self._lib.nft_ctx_buffer_error(ctx)
        self._lib.nft_ctx_output_set_flags(ctx, flags)
        return ctx

    def run(self, text: str, as_json: bool = False) -> str:
        """Apply command text as one transaction; return nft's output."""
        if self._lib is None:
            argv = [self.binary] + (["-j"] if as_json else []) + ["-f", "-"]
            done = subprocess.run(argv, input=text, capture_output=True, text=True, check=False)  # noqa: S603
            if done.returncode:
                raise NftError(done.stderr.strip())
            return done.stdout
        ctx = self._json_ctx if as_json else self._ctx
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
        """Bytes per element: {(set, element key): bytes}, keys as in `Client` (mac . ip / ip)."""
        out: dict[tuple[str, str], int] = {}
        for name in SETS:
            text = self.run(f"list set inet {TABLE} {name}", as_json=True)
            out.update(parse_counters(name, text))
        return out

    def remove(self) -> None:
        """Delete the table (gateway shut down for good)."""
        self.run(f"table inet {TABLE} {{}}\ndelete table inet {TABLE}\n")


def parse_counters(name: str, text: str) -> dict[tuple[str, str], int]:
    """Per-element byte counters from `nft -j list set` output."""
    out = {}
    for item in json.loads(text or "{}").get("nftables", []):
        for elem in (item.get("set") or {}).get("elem", []):
            body = elem.get("elem", elem) if isinstance(elem, dict) else {}
            val = body.get("val", elem)
            key = " . ".join(val["concat"]) if isinstance(val, dict) and "concat" in val else val
            out[(name, str(key))] = int((body.get("counter") or {}).get("bytes", 0))
    return out
