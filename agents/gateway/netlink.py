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
import time

NETLINK_NETFILTER = 12
_GETSETELEM = (10 << 8) | 13  # NFNL_SUBSYS_NFTABLES, NFT_MSG_GETSETELEM
_NEWSETELEM = (10 << 8) | 12
_REQUEST, _DUMP = 0x1, 0x300  # NLM_F_REQUEST, NLM_F_ROOT | NLM_F_MATCH
_DUMP_INTR = 0x10  # NLM_F_DUMP_INTR: the table changed while the kernel was dumping it
_GENERATION = struct.Struct(">H")  # nfgenmsg res_id: the ruleset generation of each message
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
TIMEOUT = 5.0  # seconds for a whole dump: a stuck answer must not hang the poll
ATTEMPTS = 3  # dumps tried when each is interrupted by a ruleset change


class NetlinkError(OSError):
    """No complete dump: the kernel refused it (no such table or map, no permission), it was
    cut or interrupted, or no answer came in time."""


class _Interrupted(NetlinkError):
    """The kernel flagged the dump as interrupted (NLM_F_DUMP_INTR): try it again."""


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


def counters(table: str, name: str, timeout: float = TIMEOUT) -> dict[str, int]:
    """{element key: bytes} of one map or set (family inet) with per-element counters.

    Raises NetlinkError (naming the map) rather than return a partial answer: on an error
    from the kernel, a dump interrupted by a ruleset change (tried again first), a truncated
    message, or no answer within `timeout` seconds.
    """
    for _attempt in range(ATTEMPTS):
        try:
            return _dump(table, name, timeout)
        except _Interrupted:
            continue
    raise NetlinkError(errno.EINTR, f"{name}: the ruleset changed during every dump")


def _request(table: str, name: str, seq: int) -> bytes:
    """NFT_MSG_GETSETELEM as a dump of every element of one inet map."""
    body = struct.pack("=BBH", _INET, 0, 0)
    body += _attr(_LIST_TABLE, table.encode() + b"\0") + _attr(_LIST_SET, name.encode() + b"\0")
    return _HEADER.pack(_HEADER.size + len(body), _GETSETELEM, _REQUEST | _DUMP, seq, 0) + body


def _dump(table: str, name: str, timeout: float) -> dict[str, int]:
    seq = 1
    out: dict[str, int] = {}
    buf = bytearray(1 << 18)
    deadline = time.monotonic() + timeout
    generation: list[int] = []  # of the dump's first message
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
        sock.bind((0, 0))
        port = sock.getsockname()[0]
        sock.settimeout(timeout)
        sock.sendall(_request(table, name, seq))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NetlinkError(errno.ETIMEDOUT, f"{name}: no complete answer in {timeout} s")
            sock.settimeout(left)
            try:
                size = sock.recv_into(buf, 0, socket.MSG_TRUNC)
            except TimeoutError as exc:
                raise NetlinkError(errno.ETIMEDOUT, f"{name}: no answer in {timeout} s") from exc
            if size > len(buf):
                raise NetlinkError(errno.EMSGSIZE, f"{name}: a {size}-byte message was cut")
            if _messages(buf, size, seq, port, name, out, generation):
                return out


def _messages(
    buf, size: int, seq: int, port: int, name: str, out: dict, generation: list[int]
) -> bool:
    """The netlink messages of one datagram (buf[:size]) into out; True once the dump is
    complete.

    A dump comes in parts, and a transaction between two parts (an authorisation) can make
    the kernel skip or repeat elements. The kernel (6.x) does not flag that with
    NLM_F_DUMP_INTR for set elements, but each part carries the ruleset generation: a part
    of another generation than the first makes the dump interrupted.
    """
    at = 0
    while at + _HEADER.size <= size:
        length, kind, flags, got_seq, got_port = _HEADER.unpack_from(buf, at)
        if length < _HEADER.size or at + length > size:
            raise NetlinkError(errno.EPROTO, f"{name}: a damaged netlink message")
        if got_seq == seq and got_port == port:
            if flags & _DUMP_INTR:
                raise _Interrupted(errno.EINTR, f"{name}: the dump was interrupted")
            if kind in (_DONE, _ERROR):  # both end the answer; an errno (negative) may follow
                code = 0
                if length >= _HEADER.size + 4:
                    code = -struct.unpack_from("=i", buf, at + _HEADER.size)[0]
                if code:
                    raise NetlinkError(code, f"{name}: {os.strerror(code)}")
                return True
            if kind == _NEWSETELEM:  # the nfgenmsg (4 bytes), then the attributes
                now = _GENERATION.unpack_from(buf, at + _HEADER.size + 2)[0]
                if generation and generation[0] != now:
                    raise _Interrupted(errno.EINTR, f"{name}: the ruleset changed in the dump")
                generation[:] = [now]
                _elements(buf, at + _HEADER.size + 4, at + length, out)
        at += (length + 3) & ~3
    return False
