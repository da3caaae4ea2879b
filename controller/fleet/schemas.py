"""Shapes of the agent API and of enrolment tokens."""

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from controller.devices.models import DeviceKind
from controller.fleet.models import CommandKind, CommandState
from controller.schemas import Id, Input, Output
from controller.validation import Hostname, MacAddress

# Kinds the controller knows how to apply; anything else is refused (422) rather than dropped,
# so it stays in the agent's spool until a controller that understands it takes it.
RecordKind = Literal["heartbeat", "result", "usage", "session", "discovery"]


def dns_safe(value):
    """Machines are named freely (PC_01, Infomat Hol): keep letters, digits, dots, hyphens."""
    if not isinstance(value, str):
        return value
    labels = [re.sub(r"[^a-z0-9-]+", "-", part.lower()).strip("-") for part in value.split(".")]
    return ".".join(label[:63] for label in labels if label) or value


class EnrollRequest(Input):
    """What an agent says about itself when it joins an office."""

    token: str = Field(min_length=10, max_length=100, description="The office enrolment token.")
    hostname: Annotated[Hostname, BeforeValidator(dns_safe)] = Field(max_length=253)
    mac: MacAddress = Field(None, description="Primary MAC; an existing device is matched by it.")
    kind: Literal["pc", "infomat", "gateway"] = "pc"
    os: str = Field("", max_length=200)
    agent_version: str = Field("", max_length=40)


class EnrollAnswer(Output):
    """The device's identity: keep the secret private (mode 0600)."""

    device_id: int
    secret: str = Field(description="Per-device HMAC key; shown this once.")
    controller_id: str
    interval: int = Field(description="Seconds between heartbeats.")


class RecordIn(Input):
    """One spooled record: numbered by the agent, processed once, in order."""

    model_config = Input.model_config | {"extra": "forbid"}

    seq: int = Field(ge=1, le=2**62)
    kind: RecordKind
    body: dict


class SyncRequest(Input):
    """The agent's heartbeat: its spooled records, oldest first."""

    records: list[RecordIn] = Field(min_length=1, max_length=200)


class SyncAnswer(Output):
    """Acknowledgement and what the controller wants next."""

    ack: int = Field(description="Highest sequence number processed; delete up to it.")
    inventory_wanted: bool = Field(description="Send the full inventory with the next heartbeat.")
    interval: int
    commands: list[dict] = Field(default_factory=list)
    controller_time: datetime


class TokenCreate(Input):
    """A new enrolment token for an office."""

    ttl_hours: int = Field(24, ge=1, le=24 * 90, description="Valid for this many hours.")
    uses: int = Field(1, ge=1, le=10_000, description="How many agents may enrol with it.")


class TokenCreated(Output):
    """A new enrolment token: the secret is shown this once."""

    token: str
    office_id: int
    expires_at: datetime
    uses_left: int


KINDS = {"pc": DeviceKind.PC, "infomat": DeviceKind.INFOMAT, "gateway": DeviceKind.GATEWAY}


_SCRIPT = r"^[A-Za-z0-9_.-]{1,64}$"


class CommandCreate(Input):
    """A command for a device; args depend on the kind."""

    kind: CommandKind
    message: str | None = Field(None, min_length=1, max_length=500, description="For `message`.")
    script: str | None = Field(None, pattern=_SCRIPT, description="For `run_script`: a name "
                               "from the device's allow-list.")  # fmt: skip
    ttl_minutes: int = Field(60, ge=1, le=7 * 24 * 60, description="Dropped if not run by then.")

    @model_validator(mode="after")
    def _args_fit_the_kind(self):
        if self.kind is CommandKind.END_SESSION:  # queued only by ending a portal session
            raise PydanticCustomError("staff_kind", "not sent by hand", {"field": "kind"})
        needs = {CommandKind.MESSAGE: "message", CommandKind.RUN_SCRIPT: "script"}
        wanted = needs.get(self.kind)
        for name in ("message", "script"):
            given = getattr(self, name) is not None
            if name == wanted and not given:
                raise PydanticCustomError("missing_arg", "{field} is required", {"field": name})
            if name != wanted and given:
                raise PydanticCustomError("extra_arg", "{field} is not used", {"field": name})
        return self

    def args(self) -> dict:
        """The arguments the agent gets."""
        return {k: v for k in ("message", "script") if (v := getattr(self, k)) is not None}


class CommandOut(Output):
    """A command and, once run, its result."""

    id: int
    uid: str
    batch: str | None
    device_id: int
    kind: CommandKind
    args: dict
    state: CommandState
    created_by: str
    created_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    output: str
    duration_s: float | None


class CommandResult(Input):
    """What an agent reports after running a command (a spooled `result` record)."""

    model_config = Input.model_config | {"extra": "ignore"}

    uid: str = Field(pattern=r"^[0-9a-f]{32}$")
    exit_code: int | None = Field(None, ge=-1024, le=1024)
    output: str = Field("", max_length=20_000)
    duration_s: float | None = Field(None, ge=0)


class CommandList(Output):
    """A device's latest commands, newest first."""

    items: list[CommandOut]


class Target(Input):
    """Which devices a command goes to: listed ids, and/or every device of an office or kind.

    Only devices with an enrolled agent inside the caller's offices are taken.
    """

    device_ids: list[Id] | None = Field(None, max_length=5000)
    office_id: Id | None = None
    kind: DeviceKind | None = None

    @model_validator(mode="after")
    def _something(self):
        if not (self.device_ids or self.office_id or self.kind):
            raise PydanticCustomError("empty_target", "choose devices, an office or a kind", {
                "field": "device_ids"})  # fmt: skip
        return self


class BulkCommand(Input):
    """One command for many devices."""

    target: Target
    command: CommandCreate


class Batch(Output):
    """The commands sent together and where each of them is."""

    batch: str
    counts: dict[str, int] = Field(description="Commands per state.")
    items: list[CommandOut]


class UsageIn(Input):
    """Usage counted by an agent since its previous usage record."""

    model_config = Input.model_config | {"extra": "ignore"}

    at: float = Field(ge=0, description="When the count was taken (Unix time).")
    interaction_sessions: int = Field(0, ge=0, le=100_000)
    pc_sessions: int = Field(0, ge=0, le=100_000, description="Logins begun at a PC.")
    pc_seconds: int = Field(0, ge=0, le=10_000_000, description="Time users were logged in.")


class ScreenshotStored(Output):
    """The screenshot was kept (the body of the upload is the PNG itself)."""

    stored: int = Field(description="Bytes stored.")
