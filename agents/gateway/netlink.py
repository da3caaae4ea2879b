"""Per-element byte counters of one nftables map, read from the kernel in one netlink dump.

`nft list map` builds libnftables' cache and formats every element as text (or JSON) before
the daemon can read the counters back out of it: at 10,000 clients that was most of a poll's
CPU time. The poll needs only each element's key and byte counter, so it asks the kernel
itself: one NFT_MSG_GETSETELEM dump on a NETLINK_NETFILTER socket, of which it reads those
two attributes per element. Keys come back as nft prints them: ``mac . address`` for the
concatenations, the address alone otherwise.
"""

import errno
import os
import socket
import struct

NETLINK_NETFILTER = 12
_GETSETELEM = (10 << 8) | 13  # NFNL_SUBSYS_NFTABLES, NFT_MSG_GETSETELEM
_NEWSETELEM = (10 << 8) | 12
_REQUEST, _DUMP = 0x1, 0x300  # NLM_F_REQUEST, NLM_F_ROOT | NLM_F_MATCH
_ERROR, _DONE = 2, 3  # NLMSG_ERROR, NLMSG_DONE
_INET = 1  # NFPROTO_INET
_TYPE = 0x3FFF  # an attribute's type without NLA_F_NESTED / NLA_F_NET_BYTEORDER
# attribute numbers (linux/netfilter/nf_tables.h)
_LIST_TABLE, _LIST_SET, _LIST_ELEMENTS = 1, 2, 3  # NFTA_SET_ELEM_LIST_*
_ELEM = 1  # NFTA_LIST_ELEM
_KEY, _EXPR, _EXPRESSIONS = 1, 7, 11  # NFTA_SET_ELEM_*
_VALUE = 1  # NFTA_DATA_VALUE
_EXPR_NAME, _EXPR_DATA = 1, 2  # NFTA_EXPR_*
_COUNTER_BYTES = 1  # NFTA_COUNTER_BYTES

_HEADER = struct.Struct("=IHHII")  # nlmsghdr
_ATTR = struct.Struct("=HH")
_BYTES = struct.Struct(">Q")


class NetlinkError(OSError):
    """The kernel refused the dump (no such table or map, no permission)."""


def _attr(kind: int, data: bytes) -> bytes:
    raw = _ATTR.pack(4 + len(data), kind) + data
    return raw + b"\0" * (-len(raw) % 4)


def _attrs(buf, start: int, end: int):
    """(type, data start, data end) of each attribute in buf[start:end]."""
    while start + 4 <= end:
        length, kind = _ATTR.unpack_from(buf, start)
        if length < 4:
            return
        yield kind & _TYPE, start + 4, start + length
        start += (length + 3) & ~3


def _key(raw: bytes) -> str:
    """nft's spelling of a key: ipv4, ipv6, or ether_addr (padded to 8) . ipv4/ipv6."""
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if len(raw) == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    mac = raw[:6].hex(":")
    family = socket.AF_INET if len(raw) == 12 else socket.AF_INET6
    return f"{mac} . {socket.inet_ntop(family, raw[8:])}"


_COUNTER_NAME = _ATTR.pack(12, _EXPR_NAME) + b"counter\0"


def _counter(buf, start: int, end: int) -> int:
    """The bytes of a `counter` expression (NFTA_EXPR_NAME, NFTA_EXPR_DATA), else 0."""
    if buf[start : start + 12] != _COUNTER_NAME:
        return 0
    for kind, a, b in _attrs(buf, start + 12, end):
        if kind == _EXPR_DATA:
            for field, fa, _fb in _attrs(buf, a, b):
                if field == _COUNTER_BYTES:
                    return _BYTES.unpack_from(buf, fa)[0]
    return 0


def _element(buf, at: int, end: int, out: dict) -> None:
    """One NFTA_LIST_ELEM: its key and its counter's bytes into out.

    Written as a flat loop: it runs once per client and map on every poll.
    """
    unpack = _ATTR.unpack_from
    key, counted = None, 0
    while at + 4 <= end:
        length, kind = unpack(buf, at)
        if length < 4:
            break
        kind &= _TYPE
        if kind == _KEY:  # nested: one NFTA_DATA_VALUE
            size, _value = unpack(buf, at + 4)
            key = _key(bytes(buf[at + 8 : at + 4 + size]))
        elif kind == _EXPR:
            counted = _counter(buf, at + 4, at + length)
        elif kind == _EXPRESSIONS:
            for _one, a, b in _attrs(buf, at + 4, at + length):
                counted = _counter(buf, a, b) or counted
        at += (length + 3) & ~3
    if key is not None:
        out[key] = counted


def _elements(buf, start: int, end: int, out: dict) -> None:
    for kind, a, b in _attrs(buf, start, end):
        if kind == _LIST_ELEMENTS:
            for _elem, ea, eb in _attrs(buf, a, b):
                _element(buf, ea, eb, out)


def counters(table: str, name: str) -> dict[str, int]:
    """{element key: bytes} of one map or set (family inet) with per-element counters."""
    body = struct.pack("=BBH", _INET, 0, 0)
    body += _attr(_LIST_TABLE, table.encode() + b"\0") + _attr(_LIST_SET, name.encode() + b"\0")
    seq = 1
    request = _HEADER.pack(_HEADER.size + len(body), _GETSETELEM, _REQUEST | _DUMP, seq, 0)
    out: dict[str, int] = {}
    buf = bytearray(1 << 18)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
        sock.bind((0, 0))
        sock.sendall(request + body)
        while True:
            size = sock.recv_into(buf)
            at = 0
            while at + _HEADER.size <= size:
                length, kind, _flags, got_seq, _pid = _HEADER.unpack_from(buf, at)
                if length < _HEADER.size:
                    raise NetlinkError(errno.EPROTO, "bad netlink message")
                if got_seq == seq:
                    if kind == _DONE:
                        return out
                    if kind == _ERROR:
                        code = -struct.unpack_from("=i", buf, at + _HEADER.size)[0]
                        if code == 0:
                            return out
                        raise NetlinkError(code, f"{name}: {os.strerror(code)}")
                    if kind == _NEWSETELEM:  # the nfgenmsg (4 bytes), then the attributes
                        _elements(buf, at + _HEADER.size + 4, at + length, out)
                at += (length + 3) & ~3
