"""Taking in an agent's spooled records: in order, each sequence number once."""

from functools import cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import bindparam, update

from controller.devices.models import Device, DeviceKind, DeviceState
from controller.errors import Invalid
from controller.fleet import commands, states, usage
from controller.fleet.guard import AgentDevice
from controller.fleet.schemas import CommandResult, RecordIn, UsageIn
from controller.prepared import Prepared
from controller.types import utcnow


class Heartbeat(BaseModel):
    """What a heartbeat reports; newer agents may add fields, which are kept but not checked."""

    model_config = ConfigDict(extra="allow")

    sent_at: float = Field(ge=0)
    uptime_s: float | None = Field(None, ge=0)
    load: list[float] | None = Field(None, max_length=3)
    cpu_percent: float | None = Field(None, ge=0, le=100)
    memory: dict | None = None
    disks: list[dict] | None = Field(None, max_length=64)
    os: str | None = Field(None, max_length=200)
    agent_version: str | None = Field(None, max_length=40)
    user: str | None = Field(None, max_length=100)
    kiosk: dict | None = None
    inventory_hash: str | None = Field(None, max_length=64)
    inventory: dict | None = None


def take(device: AgentDevice, records: list[RecordIn]) -> tuple[int, bool]:
    """Apply the new records; returns (acknowledged sequence number, inventory wanted).

    The device row gets one UPDATE for the whole batch. Nothing is committed here: the
    caller commits the records together with the answer.
    """
    wanted, changes = False, {}
    for item in records:
        if item.seq <= device.agent_seq:
            continue  # sent before, answer lost: already applied
        if item.kind == "heartbeat":
            wanted = _heartbeat(device, item, changes)
        elif item.kind == "result":
            commands.apply_result(device, _parse(CommandResult, item))
        elif item.kind == "usage":
            usage.add(device, _parse(UsageIn, item))
        else:  # session, discovery: what gateways report of the captive portal
            _portal(device, item)
        device.agent_seq = changes["agent_seq"] = item.seq
    if changes:
        changes["updated_at"] = utcnow()
        _device_update(frozenset(changes)).execute({**changes, "device_id": device.id})
    return device.agent_seq, wanted


@cache
def _device_update(columns: frozenset[str]) -> Prepared:
    table = Device.__table__
    values = {name: bindparam(name, type_=table.c[name].type) for name in sorted(columns)}
    return Prepared(update(table).where(table.c.id == bindparam("device_id")).values(values))


def _portal(device: AgentDevice, item: RecordIn) -> None:
    from controller.portal import monitor, sessions
    from controller.portal.schemas import DiscoveryRecord, SessionRecord

    if device.kind != DeviceKind.GATEWAY:
        raise Invalid(f"record {item.seq}: only gateways send {item.kind} records",
                      {"records": "not a gateway"})  # fmt: skip
    if item.kind == "session":
        sessions.apply_record(device, _parse(SessionRecord, item))
    else:
        monitor.note_neighbours(device, _parse(DiscoveryRecord, item))


def _parse(model, item: RecordIn):
    try:
        return model.model_validate(item.body)
    except ValidationError as exc:
        raise Invalid.from_pydantic(exc, f"record {item.seq} is not a valid {item.kind}") from None


def _heartbeat(device: AgentDevice, item: RecordIn, changes: dict) -> bool:
    beat = _parse(Heartbeat, item)
    now = utcnow()
    changes["health"] = beat.model_dump(exclude={"inventory"}, exclude_none=True)
    changes["last_seen"] = now
    if device.state in (DeviceState.UNKNOWN, DeviceState.OFFLINE):
        states.record(
            device.id, device.office_id, device.state, DeviceState.ONLINE, "heartbeat", now
        )
        device.state = changes["state"] = DeviceState.ONLINE
    if beat.inventory is not None:
        changes["inventory"] = beat.inventory
        device.inventory_hash = changes["inventory_hash"] = beat.inventory_hash
    return bool(beat.inventory_hash) and beat.inventory_hash != device.inventory_hash
