"""Shapes of the agent API and of enrolment tokens."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from controller.devices.models import DeviceKind
from controller.schemas import Input, Output
from controller.validation import Hostname, MacAddress

RecordKind = Literal["heartbeat", "result", "usage"]


class EnrollRequest(Input):
    """What an agent says about itself when it joins an office."""

    token: str = Field(min_length=10, max_length=100, description="The office enrolment token.")
    hostname: Hostname = Field(max_length=253)
    mac: MacAddress = Field(None, description="Primary MAC; an existing device is matched by it.")
    kind: Literal["pc", "infomat"] = "pc"
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


KINDS = {"pc": DeviceKind.PC, "infomat": DeviceKind.INFOMAT}
