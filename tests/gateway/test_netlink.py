"""The poll's netlink dump of element counters, checked against nft's own listing."""

import errno
import re
import socket
import struct
import uuid

import pytest

from agents.gateway import netlink, nft
from tests.gateway.netlab import in_ns, require_netns, sh

# nft's text listing of an element with a counter: the oracle the dump is checked against
LISTED = re.compile(r"([0-9a-f:.]+(?: \. [0-9a-f:.]+)?) counter packets \d+ bytes (\d+)")


def test_keys_are_spelled_as_nft_spells_them():
    mac = bytes.fromhex("020000000001")
    assert netlink._key(bytes([10, 0, 0, 2])) == "10.0.0.2"
    assert netlink._key(bytes.fromhex("fd00" + "00" * 13 + "02")) == "fd00::2"
    assert netlink._key(mac + b"\0\0" + bytes([10, 0, 0, 2])) == "02:00:00:00:00:01 . 10.0.0.2"
    six = mac + b"\0\0" + bytes.fromhex("fd00" + "00" * 13 + "02")
    assert netlink._key(six) == "02:00:00:00:00:01 . fd00::2"


def _clients() -> list[nft.Client]:
    out = []
    for i in range(600):  # several netlink messages' worth
        six = [f"fd00::{i:x}", f"2001:db8:0:{i:x}::1"] if i % 3 == 0 else []
        rate = (8000, 1000) if i % 2 else (None, None)
        out.append(nft.Client(f"02:00:00:00:{i >> 8:02x}:{i & 255:02x}",
                              f"10.0.{i >> 8}.{i & 255}", six, 600, *rate))  # fmt: skip
    return out


def _dump_and_list() -> tuple[dict, dict]:
    kernel = nft.Nft()
    kernel.load(nft.Network("lan0", "wan0", 8080), _clients())
    # counters that are not zero: an element may be given its counter's value when added
    kernel.run(
        f"delete element inet {nft.TABLE} down4 {{ 10.0.0.7 }}\n"
        f"add element inet {nft.TABLE} down4 {{ 10.0.0.7 counter packets 3 bytes 123456789012 "
        f"timeout 60s : accept }}\n"
    )
    dumped = kernel.counters()
    listed = {}
    for name in nft.MAPS:
        text = kernel.run(f"list map inet {nft.TABLE} {name}")
        listed.update(((name, k), int(n)) for k, n in LISTED.findall(text))
    return dumped, listed


def _in_a_new_namespace(work):
    """work's result, run in a network namespace made for it (and removed after)."""
    require_netns()
    ns = f"tgnl{uuid.uuid4().hex[:8]}"
    sh("ip", "netns", "add", ns)
    try:
        return in_ns(ns, work)
    finally:
        sh("ip", "netns", "del", ns, check=False)


def test_the_dump_reads_every_element_and_counter_nft_lists():
    dumped, listed = _in_a_new_namespace(_dump_and_list)
    assert dumped == listed
    assert len([k for k in dumped if k[0] == "clients"]) == 600
    assert len([k for k in dumped if k[0] == "down6"]) == 400
    assert dumped[("down4", "10.0.0.7")] == 123456789012
    assert ("clients6", "02:00:00:00:00:03 . 2001:db8:0:3::1") in dumped


def test_a_missing_table_is_an_error_not_an_empty_answer():
    require_netns()
    ns = f"tgnl{uuid.uuid4().hex[:8]}"
    sh("ip", "netns", "add", ns)
    try:
        error = in_ns(ns, _missing)
    finally:
        sh("ip", "netns", "del", ns, check=False)
    assert isinstance(error, nft.NftError)


def _missing():
    try:
        nft.Nft().counters()
    except nft.NftError as exc:
        return exc
    return None


def _message(kind: int, payload: bytes = b"", flags: int = 0, seq: int = 1, port: int = 7):
    return netlink._HEADER.pack(netlink._HEADER.size + len(payload), kind, flags, seq, port) + (
        payload
    )


def _read(*datagrams: bytes, port: int = 7) -> dict:
    out, generation = {}, []
    for datagram in datagrams:
        if netlink._messages(datagram, len(datagram), 1, port, "down4", out, generation):
            return out
    out["(not done)"] = 1
    return out


def test_the_end_of_a_dump_may_carry_an_error_which_is_not_an_empty_answer():
    assert _read(_message(netlink._DONE, struct.pack("=i", 0))) == {}
    with pytest.raises(netlink.NetlinkError, match="down4") as raised:
        _read(_message(netlink._DONE, struct.pack("=i", -errno.EINTR)))
    assert raised.value.errno == errno.EINTR
    with pytest.raises(netlink.NetlinkError, match="down4"):
        _read(_message(netlink._ERROR, struct.pack("=i", -errno.ENOENT)))


def test_an_interrupted_dump_is_not_read_as_a_complete_one():
    part = _message(netlink._NEWSETELEM, b"\x01\0\0\0", flags=0x2 | 0x10)  # MULTI | DUMP_INTR
    with pytest.raises(netlink.NetlinkError):
        _read(part + _message(netlink._DONE, struct.pack("=i", 0)))


def test_a_cut_message_and_answers_to_other_requests():
    cut = _message(netlink._NEWSETELEM, b"\x01\0\0\0" * 8)[:-8]
    with pytest.raises(netlink.NetlinkError, match="damaged"):
        _read(cut)
    # another request's answer (sequence or port): not this dump's end
    other = _message(netlink._DONE, struct.pack("=i", 0), seq=2)
    other += _message(netlink._DONE, struct.pack("=i", -errno.EPERM), port=8)
    assert _read(other) == {"(not done)": 1}


def test_a_part_of_another_ruleset_generation_interrupts_the_dump():
    part = _message(netlink._NEWSETELEM, b"\x01\0\0\x03", flags=0x2)  # generation 3
    assert _read(part, part) == {"(not done)": 1}
    later = _message(netlink._NEWSETELEM, b"\x01\0\0\x04", flags=0x2)  # generation 4
    with pytest.raises(netlink.NetlinkError, match="changed"):
        _read(part, later)


def _ends(datagram: bytes) -> bool:
    """Whether a datagram holds NLMSG_DONE or NLMSG_ERROR."""
    at = 0
    while at + netlink._HEADER.size <= len(datagram):
        length, kind = netlink._HEADER.unpack_from(datagram, at)[:2]
        if kind in (netlink._DONE, netlink._ERROR):
            return True
        at += (length + 3) & ~3
    return False


def _parts_around_a_change() -> tuple[list[bytes], int]:
    """The kernel's answer to a dump of down4 with an authorisation between two parts."""
    kernel = nft.Nft()
    kernel.load(nft.Network("lan0", "wan0", 8080), _clients())
    parts = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, netlink.NETLINK_NETFILTER) as sock:
        sock.bind((0, 0))
        sock.settimeout(5)
        sock.sendall(netlink._request(nft.TABLE, "down4", 1))
        while not parts or not _ends(parts[-1]):
            parts.append(sock.recv(1 << 18))
            if len(parts) == 1:
                kernel.run(f"add element inet {nft.TABLE} down4 {{ 10.9.9.9 : accept }}")
        return parts, sock.getsockname()[0]


def test_a_dump_across_an_authorisation_is_tried_again_not_read_short():
    parts, port = _in_a_new_namespace(_parts_around_a_change)
    assert len(parts) > 2  # the answer came in parts (600 elements)
    with pytest.raises(netlink.NetlinkError, match="changed"):
        _read(*parts, port=port)
