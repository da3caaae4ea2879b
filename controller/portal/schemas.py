"""Shapes of the portal: staff policy and voucher input, the gateway contract, outputs."""

import ipaddress
import re
from datetime import date, datetime
from typing import Annotated, Literal

from flask_babel import gettext as _
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from controller.schemas import Id, Input, Output, PageQuery
from controller.validation import IPAddress, check_hostname, normalize_mac

Method = Literal["voucher", "click"]
EndReason = Literal["expired", "idle", "data_cap", "logout", "admin"]
SessionId = Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{32,36}$", description="UUID.")]
Pseudonym = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="HMAC of the MAC, hex.")]
_SLOT = re.compile(r"^\s*([0-6])(?:\s*-\s*([0-6]))?\s+(\d\d:\d\d)\s*-\s*(\d\d:\d\d)\s*$")


def _blank_to_none(value):
    return None if isinstance(value, str) and not value.strip() else value


def _lines(value):
    """A form's text area: one item per line (or comma)."""
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[\n,]+", value) if v.strip()]
    return value


def _slots(value):
    """Opening hours typed as lines "0-4 08:00-16:00" (0 = Monday)."""
    if not isinstance(value, str):
        return value
    out = []
    for line in filter(str.strip, value.splitlines()):
        match = _SLOT.match(line)
        if not match:
            raise ValueError(_("Write each line as a weekday (0 = Monday) or a range of them, "
                               "then the hours: 0-4 08:00-16:00."))  # fmt: skip
        first, last, opens, closes = match.groups()
        if int(last or first) < int(first):
            raise ValueError(_("Write each line as a weekday (0 = Monday) or a range of them, "
                               "then the hours: 0-4 08:00-16:00."))  # fmt: skip
        for day in range(int(first), int(last or first) + 1):
            out.append({"weekday": day, "opens": opens, "closes": closes})
    return out or None


def _iso(value):
    """JSON has no time type: parse ISO 8601 text, as strict validation will not."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso)]


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError(_("Not an address range (e.g. 10.0.0.0/24).")) from None


def _https(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https://[\w.-]+(/[\w./%?=&~:+-]*)?$", value):
        raise ValueError(_("Give an https:// address."))
    return value


def _hosts(values: list[str]) -> list[str]:
    return sorted({check_hostname(v) for v in values})


class Slot(Input):
    """Opening hours of one weekday (0 = Monday), local time of the office."""

    weekday: int = Field(ge=0, le=6)
    opens: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    closes: str = Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")  # 24:00: end of day

    @model_validator(mode="after")
    def _order(self):
        if self.closes <= self.opens:
            raise PydanticCustomError("slot_order", "closes before it opens", {"field": "closes"})
        return self


OptInt = Annotated[int | None, BeforeValidator(_blank_to_none)]
OptText = Annotated[str | None, BeforeValidator(_blank_to_none)]


class PolicyIn(Input):
    """A whole portal policy (the county default or an office's override); times in minutes."""

    methods: list[Method] = Field(min_length=1, max_length=2, description="Login methods.")
    session_minutes: int = Field(ge=1, le=1440, description="Length of one session.")
    daily_minutes: int = Field(ge=1, le=1440, description="Time per visitor per day, county-wide.")
    idle_timeout_minutes: int = Field(ge=1, le=1440)
    session_megabytes: OptInt = Field(None, ge=1, le=10**7, description="Empty: no cap.")
    daily_megabytes: OptInt = Field(None, ge=1, le=10**7, description="Empty: no cap.")
    rate_down_kbit: OptInt = Field(None, ge=64, le=10**7, description="Empty: no limit.")
    rate_up_kbit: OptInt = Field(None, ge=64, le=10**7, description="Empty: no limit.")
    devices_per_voucher: int = Field(1, ge=1, le=50)
    opening_hours: Annotated[list[Slot] | None, BeforeValidator(_slots)] = Field(
        None, max_length=50, description="Empty: always open."
    )
    walled_garden_hosts: Annotated[list[str], BeforeValidator(_lines), AfterValidator(_hosts)] = (
        Field(default_factory=list, max_length=100)
    )
    walled_garden_cidrs: Annotated[
        list[Annotated[str, AfterValidator(_cidr)]], BeforeValidator(_lines)
    ] = Field(default_factory=list, max_length=100)
    terms_pl: str = Field("", max_length=20_000)
    terms_en: str = Field("", max_length=20_000)
    wifi4eu_network_identifier: OptText = Field(None, max_length=100, pattern=r"^[\w.:-]+$")
    wifi4eu_snippet_url: Annotated[OptText, AfterValidator(_https)] = Field(None, max_length=300)


class PolicyOut(PolicyIn):
    """A stored policy: office_id null is the county default."""

    model_config = Output.model_config
    office_id: int | None
    updated_by: str
    updated_at: datetime | None


class PolicyList(Output):
    """The county default and the offices' overrides the caller may see."""

    default: PolicyOut
    overrides: list[PolicyOut]


class BatchCreate(Input):
    """A batch of vouchers for one office."""

    office_id: Id
    count: int = Field(ge=1, le=500, description="How many vouchers.")
    minutes: int = Field(60, ge=1, le=60 * 24 * 31, description="Time allowance of each.")
    megabytes: OptInt = Field(None, ge=1, le=10**7, description="Data allowance; empty: none.")
    valid_days: int = Field(30, ge=1, le=366, description="Usable for this many days.")
    multi_use: bool = Field(False, description="Usable in several sessions until used up.")
    max_devices: OptInt = Field(
        None, ge=1, le=50, description="Devices per voucher; empty: as the office's policy says."
    )
    note: str = Field("", max_length=200)


class BatchOut(Output):
    """A voucher batch (codes are never shown again)."""

    id: int
    office_id: int
    count: int
    seconds: int
    bytes: int | None
    max_devices: int
    multi_use: bool
    valid_until: datetime
    note: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class BatchCreated(BatchOut):
    """A new batch with its plain codes: shown this once."""

    codes: list[str]


class VoucherUse(Output):
    """How one voucher has been used."""

    id: int
    hash_prefix: str
    state: str = Field(description="unused, in_use, used_up, expired or revoked")
    sessions: int
    devices: int
    seconds_used: int
    bytes_used: int
    first_used_at: datetime | None


class BatchDetail(BatchOut):
    """A batch with the use of each voucher."""

    vouchers: list[VoucherUse]


class BatchQuery(PageQuery):
    """Filters of the voucher batch list."""

    office_id: Id | None = None


class SessionOut(Output):
    """A visitor session (the visitor is a yearly pseudonym, never a MAC)."""

    id: int
    session_id: str
    office_id: int
    device_id: int | None
    pseudonym: str
    method: str
    voucher_id: int | None
    offline: bool
    started_at: datetime
    ended_at: datetime | None
    bytes_down: int
    bytes_up: int
    end_reason: str | None
    granted_seconds: int | None
    end_requested_at: datetime | None


class SessionQuery(PageQuery):
    """Filters of session lists."""

    office_id: Id | None = None
    live: bool | None = Field(None, description="true: live only; false: ended only.")
    method: Method | None = None
    pseudonym: Annotated[str | None, BeforeValidator(_blank_to_none)] = Field(
        None, pattern=r"^[0-9a-f]{1,32}$", description="Starts with."
    )
    since: Annotated[date | None, BeforeValidator(_blank_to_none)] = Field(
        None, description="From this day (county time)."
    )
    until: Annotated[date | None, BeforeValidator(_blank_to_none)] = Field(
        None, description="Up to and including this day."
    )


# --- the gateway contract (docs/portal-api.md) ----------------------------------------------


class SyncIn(Input):
    """Versions of the gateway's cache."""

    policy_version: str | None = Field(None, max_length=64)
    vouchers_version: str | None = Field(None, max_length=64)


class SyncOut(Output):
    """Policy and usable vouchers of the gateway's office, keys for offline use."""

    office_id: int
    policy_version: str
    policy: dict | None
    vouchers_version: str
    vouchers: list[dict] | None
    voucher_key: str
    pseudonym_salt: str
    controller_time: datetime


class StartIn(Input):
    """A visitor asks to go online."""

    session_id: SessionId
    method: Method
    code: str | None = Field(None, max_length=64)
    terms_accepted: bool = False
    pseudonym: Pseudonym
    language: Literal["pl", "en"] = "pl"


class GrantOut(Output):
    """What the visitor may use in this session (bytes null: no cap)."""

    session_id: str
    seconds: int
    bytes: int | None
    rate_down_kbit: int | None
    rate_up_kbit: int | None
    idle_timeout_seconds: int | None
    expires_at: datetime


class EndIn(Input):
    """The gateway ended a session."""

    reason: EndReason
    bytes_down: int = Field(0, ge=0, le=2**62)
    bytes_up: int = Field(0, ge=0, le=2**62)
    ended_at: IsoTime | None = None


class Ended(Output):
    """The session is over (also when it was already)."""

    session_id: str
    ended: bool


class SessionRecord(Input):
    """A spooled `session` record of a gateway."""

    model_config = Input.model_config | {"extra": "ignore"}

    session_id: SessionId
    event: Literal["start", "update", "end"]
    pseudonym: Pseudonym
    method: Method
    voucher_hash: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    bytes_down: int = Field(0, ge=0, le=2**62)
    bytes_up: int = Field(0, ge=0, le=2**62)
    end_reason: EndReason | None = None
    offline: bool = False


Mac = Annotated[str, AfterValidator(normalize_mac)]


class NeighbourIn(Input):
    """One neighbour from the ARP sweep."""

    model_config = Input.model_config | {"extra": "ignore"}

    mac: Mac
    ip: IPAddress = None


class DiscoveryRecord(Input):
    """A spooled `discovery` record: what the gateway saw on the office LAN."""

    model_config = Input.model_config | {"extra": "ignore"}

    at: AwareDatetime
    neighbours: list[NeighbourIn] = Field(max_length=4096)


class AdoptIn(Input):
    """Take a discovered MAC into the inventory."""

    office_id: Id
    mac: Mac
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["pc", "infomat", "hotspot", "gateway", "other"] = "other"
