"""The cached office policy and voucher hashes, and the offline grant decision.

The cache is the last `/api/portal/v1/sync` answer, written atomically to the state dir, so
a gateway that restarts while the controller is unreachable still grants by the last policy.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from agents.common.contract import open_until, voucher_hash
from agents.common.spool import write_atomically


class Refusal(Exception):
    """A grant refused, with one of the contract's error codes."""

    def __init__(self, code: str, message: str = "", retry_after: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds, for too_many_attempts


@dataclass
class Grant:
    """What a session may use (the contract's grant)."""

    seconds: int
    bytes: int | None
    rate_down_kbit: int | None
    rate_up_kbit: int | None
    idle_timeout_seconds: int | None


class Cache:
    """The last sync answer, on disk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            self.data = {}

    @property
    def policy(self) -> dict | None:
        """The cached policy, or None before the first sync."""
        return self.data.get("policy")

    def versions(self) -> dict:
        """What the sync request says we have."""
        return {
            "policy_version": self.data.get("policy_version"),
            "vouchers_version": self.data.get("vouchers_version"),
        }

    def update(self, answer: dict) -> bool:
        """Merge a sync answer (null parts keep the cache); True when something changed."""
        merged = dict(self.data)
        for key in ("office_id", "voucher_key", "pseudonym_salt", "controller_time"):
            if answer.get(key) is not None:
                merged[key] = answer[key]
        if answer.get("policy") is not None:
            merged["policy"], merged["policy_version"] = answer["policy"], answer["policy_version"]
        if answer.get("vouchers") is not None:
            merged["vouchers"] = answer["vouchers"]
            merged["vouchers_version"] = answer.get("vouchers_version")
        changed = merged != self.data
        if changed:
            self.data = merged
            write_atomically(self.path, json.dumps(merged).encode())
        return changed

    def salt(self) -> str:
        """The pseudonym salt (a gateway never synced uses a fixed local one)."""
        return self.data.get("pseudonym_salt") or "00" * 16

    def public(self) -> dict:
        """What the portal may show: methods, terms, wifi4eu (no voucher hashes)."""
        p = self.policy or {}
        return {
            "methods": p.get("methods", []),
            "terms": p.get("terms") or {},
            "wifi4eu": p.get("wifi4eu"),
            "known": self.policy is not None,
        }


def _closing(policy: dict, now: datetime) -> datetime | None:
    """When the office closes today, None when always open; Refusal when closed now."""
    hours = policy.get("opening_hours")
    if not hours:
        return None
    local = now.astimezone(ZoneInfo(policy.get("timezone") or "Europe/Warsaw"))
    end = open_until(hours, local)
    if end is not None:
        return end
    raise Refusal("outside_opening_hours")


def offline_grant(
    cache: Cache,
    method: str,
    code: str | None,
    terms: bool,
    used_today: int,
    devices: set[str],
    mac: str,
    now: datetime,
    bytes_today: int = 0,
) -> tuple[Grant, str | None]:
    """Grant by the cached policy and vouchers; returns the grant and the voucher hash.

    used_today and bytes_today are what this visitor used on this gateway since local
    midnight (seconds, bytes both ways): the daily time and data quotas count them.
    """
    policy = cache.policy
    if policy is None:
        raise Refusal("controller_unreachable")
    if method not in policy.get("methods", []):
        raise Refusal("method_not_allowed")
    if not terms:
        raise Refusal("terms_not_accepted")
    limits = [int(policy.get("session_seconds") or 3600)]
    cap = policy.get("session_bytes")
    digest = None
    if method == "voucher":
        digest = voucher_hash(cache.data.get("voucher_key", ""), code or "")
        voucher = next((v for v in cache.data.get("vouchers") or [] if v["hash"] == digest), None)
        if voucher is None:
            raise Refusal("voucher_unknown")
        until = (
            datetime.fromisoformat(voucher["valid_until"]) if voucher.get("valid_until") else None
        )
        if until is not None and until <= now:
            raise Refusal("voucher_expired")
        if mac not in devices and len(devices) >= int(voucher.get("max_devices") or 1):
            raise Refusal("voucher_used_up" if not voucher.get("multi_use") else "voucher_devices")
        limits.append(int(voucher.get("seconds") or limits[0]))
        if until is not None:
            limits.append(int((until - now).total_seconds()))
        if voucher.get("bytes") is not None:
            cap = min(cap, voucher["bytes"]) if cap is not None else voucher["bytes"]
    if policy.get("daily_seconds"):
        left = int(policy["daily_seconds"]) - used_today
        if left <= 0:
            raise Refusal("daily_quota_reached")
        limits.append(left)
    if policy.get("daily_bytes") is not None:
        bytes_left = int(policy["daily_bytes"]) - bytes_today
        if bytes_left <= 0:
            raise Refusal("daily_quota_reached")
        cap = min(cap, bytes_left) if cap is not None else bytes_left
    closes = _closing(policy, now)
    if closes is not None:
        limits.append(int((closes - now).total_seconds()))
    seconds = max(1, min(limits))
    grant = Grant(
        seconds,
        cap,
        policy.get("rate_down_kbit"),
        policy.get("rate_up_kbit"),
        policy.get("idle_timeout_seconds"),
    )
    return grant, digest


def start_of_day(policy: dict | None, now: datetime) -> datetime:
    """Local midnight of the office's time zone (daily quotas count from it)."""
    tz = ZoneInfo((policy or {}).get("timezone") or "Europe/Warsaw")
    local = now.astimezone(tz)
    return datetime.combine(local.date(), datetime.min.time(), tz) + timedelta(0)
