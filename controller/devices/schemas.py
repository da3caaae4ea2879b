"""API shapes of devices."""

from datetime import datetime

from pydantic import Field

from controller.devices.models import DeviceKind, DeviceState, Management
from controller.offices.schemas import OfficeRef
from controller.schemas import Id, Input, Output, PageQuery
from controller.validation import Hostname, IPAddress, MacAddress, Tags


class DeviceFields(Input):
    """Editable fields of a device, all optional (PATCH semantics)."""

    NOT_NULL = ("office_id", "kind", "name", "hostname", "serial_number", "location", "tags",
                "management", "state")  # fmt: skip

    office_id: Id | None = None
    kind: DeviceKind | None = None
    name: str | None = Field(None, min_length=1, max_length=100)
    hostname: Hostname | None = Field(None, max_length=253)
    mac: MacAddress = Field(None, description="aa:bb:cc:dd:ee:ff; unique in the county.")
    ip: IPAddress = None
    serial_number: str | None = Field(None, max_length=100)
    location: str | None = Field(None, max_length=200, description="Where in the office.")
    tags: Tags | None = None
    management: Management | None = None
    state: DeviceState | None = None


class DeviceCreate(DeviceFields):
    """A new device."""

    office_id: Id
    kind: DeviceKind
    name: str = Field(min_length=1, max_length=100)


class DeviceUpdate(DeviceFields):
    """A change to a device; fields left out stay as they are."""


class DeviceOut(Output):
    """A device as the API shows it."""

    id: int
    office: OfficeRef
    kind: DeviceKind
    name: str
    hostname: str
    mac: str | None
    ip: str | None
    serial_number: str
    location: str
    tags: list[str]
    management: Management
    state: DeviceState
    approved: bool
    last_seen: datetime | None
    created_at: datetime
    updated_at: datetime


class DeviceDetail(DeviceOut):
    """One device with what its agent last reported."""

    enrolled_at: datetime | None = Field(description="When the endpoint agent enrolled.")
    health: dict | None = Field(description="The latest heartbeat (load, memory, disks, …).")
    inventory: dict | None = Field(description="Hardware, OS and network interfaces.")


class DeviceQuery(PageQuery):
    """Filters of the device list."""

    office_id: Id | None = None
    kind: DeviceKind | None = None
    state: DeviceState | None = None
    tag: str | None = Field(None, max_length=40)
    q: str | None = Field(
        None, max_length=100, description="Search in name, host name, MAC, IP and serial number."
    )
