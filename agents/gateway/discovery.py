"""LAN discovery: an ARP sweep of the office LAN (scapy), reported to the controller."""

import ipaddress
import json
import logging
import subprocess
from datetime import UTC, datetime

log = logging.getLogger("telecentre-gateway")
MAX_HOSTS = 4096  # never sweep more than a /20


def lan_networks(lan_if: str) -> list[ipaddress.IPv4Network]:
    """The IPv4 networks configured on the LAN interface."""
    argv = ["ip", "-j", "-4", "addr", "show", "dev", lan_if]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)  # noqa: S603
    nets = []
    for link_info in json.loads(done.stdout or "[]"):
        for addr in link_info.get("addr_info", []):
            nets.append(ipaddress.ip_network(f"{addr['local']}/{addr['prefixlen']}", strict=False))
    return nets


def sweep(lan_if: str, timeout: float = 2.0) -> list[dict]:
    """Who answers ARP on the LAN: [{"mac", "ip"}], sorted by address."""
    from scapy.layers.l2 import ARP, Ether
    from scapy.sendrecv import srp

    found = {}
    for net in lan_networks(lan_if):
        if net.num_addresses > MAX_HOSTS:
            log.warning("%s is too large to sweep", net)
            continue
        answered, _ = srp(
            Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=str(net)),
            iface=lan_if,
            timeout=timeout,
            verbose=False,
        )
        for _sent, received in answered:
            found[received[ARP].psrc] = received[ARP].hwsrc.lower()
    ordered = sorted(found.items(), key=lambda kv: ipaddress.ip_address(kv[0]))
    return [{"mac": mac, "ip": ip} for ip, mac in ordered]


def report(gateway) -> int:
    """Sweep and spool a `discovery` record; the number of neighbours found."""
    neighbours = sweep(gateway.net.lan_if)
    at = datetime.now(UTC).isoformat(timespec="seconds")
    gateway.spool.append("discovery", {"at": at, "neighbours": neighbours})
    return len(neighbours)
