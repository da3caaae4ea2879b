"""The computations both sides of docs/portal-api.md must do alike, in one place.

Standard library only: the controller and the gateway import this module, so a voucher hashed
by the one is found by the other, and both see the same opening hours.
"""

import hashlib
import hmac
from datetime import datetime, time, timedelta


def normalise_code(code: str) -> str:
    """A voucher code as hashed: upper case, without spaces, tabs and hyphens."""
    return "".join(ch for ch in code.upper() if ch not in " -\t")


def voucher_hash(voucher_key: str, code: str) -> str:
    """HMAC-SHA256 of the normalised code under the voucher key (hex), in hex."""
    msg = normalise_code(code).encode()
    return hmac.new(bytes.fromhex(voucher_key), msg, hashlib.sha256).hexdigest()


def pseudonym(salt: str, mac: str) -> str:
    """A visitor's pseudonym: HMAC-SHA256 of the lower-case MAC, first 32 hex characters."""
    return hmac.new(bytes.fromhex(salt), mac.lower().encode(), hashlib.sha256).hexdigest()[:32]


def _at(day, hhmm: str, tzinfo) -> datetime:
    """A time of a local day; "24:00" is the end of the day (the next midnight)."""
    if hhmm == "24:00":
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo)
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo)


def open_until(opening_hours: list[dict], local: datetime) -> datetime | None:
    """When the opening-hours slot that holds local (an aware local time) ends; None: closed."""
    best = None
    for slot in opening_hours:
        if int(slot["weekday"]) != local.weekday():
            continue
        opens = _at(local.date(), slot["opens"], local.tzinfo)
        closes = _at(local.date(), slot["closes"], local.tzinfo)
        if opens <= local < closes and (best is None or closes > best):
            best = closes
    return best
