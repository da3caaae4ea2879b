"""Who is behind a LAN address: the kernel's neighbour table, asked with ARP when missing.

The MAC of a visitor always comes from here, never from the browser.
"""

import ipaddress
import json
import logging
import subprocess

log = logging.getLogger("telecentre-gateway")
_GOOD_STATES = {"REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP"}


def _neigh(lan_if: str, family: str) -> list[dict]:
    argv = ["ip", "-j", family, "neigh", "show", "dev", lan_if]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)  # noqa: S603
    try:
        return json.loads(done.stdout or "[]")
    except ValueError:
        return []


def _usable(entry: dict) -> bool:
    return bool(entry.get("lladdr")) and bool(_GOOD_STATES & set(entry.get("state") or []))


def _proc_arp(lan_if: str, ip: str, path: str = "/proc/net/arp") -> str | None:
    """The kernel's IPv4 neighbour table as a file: no process to start on the login path."""
    try:
        with open(path) as table:
            next(table, None)
            for line in table:
                fields = line.split()
                # IP address, HW type, Flags (0x2 complete, 0x4 permanent), HW address, Mask, Device
                if len(fields) >= 6 and fields[0] == ip and fields[5] == lan_if:
                    if int(fields[2], 16) & 0x6 and fields[3] != "00:00:00:00:00:00":
                        return fields[3].lower()
    except (OSError, ValueError):
        return None
    return None


def mac_of(lan_if: str, ip: str, arp: bool = True) -> str | None:
    """The MAC the neighbour table holds for a LAN address; ARP for it once when missing."""
    addr = ipaddress.ip_address(ip)
    if addr.version == 4 and (mac := _proc_arp(lan_if, str(addr))):
        return mac
    family = "-4" if addr.version == 4 else "-6"
    for entry in _neigh(lan_if, family):
        if entry.get("dst") == str(addr) and _usable(entry):
            return entry["lladdr"].lower()
    if arp and addr.version == 4:
        return arp_request(lan_if, str(addr))
    return None


def arp_request(lan_if: str, ip: str, timeout: float = 1.0) -> str | None:
    """Ask the LAN who has ip (scapy); the MAC, or None."""
    try:
        from scapy.layers.l2 import ARP, Ether
        from scapy.sendrecv import srp1
    except ImportError:  # scapy is a dependency of the gateway; without it only the table
        return None
    try:
        answer = srp1(
            Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=ip),
            iface=lan_if,
            timeout=timeout,
            verbose=False,
        )
    except OSError as exc:
        log.warning("ARP for %s failed: %s", ip, exc)
        return None
    return answer[ARP].hwsrc.lower() if answer is not None else None


def ipv6_by_mac(lan_if: str) -> dict[str, list[str]]:
    """The global IPv6 addresses the neighbour table shows, per MAC (one `ip` call)."""
    found: dict[str, list[str]] = {}
    for entry in _neigh(lan_if, "-6"):
        if not _usable(entry):
            continue
        addr = ipaddress.ip_address(entry.get("dst", "::"))
        if not addr.is_link_local and not addr.is_multicast:
            found.setdefault(entry["lladdr"].lower(), []).append(str(addr))
    return {mac: sorted(addrs) for mac, addrs in found.items()}
