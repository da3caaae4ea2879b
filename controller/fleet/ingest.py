"""Taking in an agent's spooled records: in order, each sequence number once."""

from functools import cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import bindparam, literal_column, update

from controller.devices.models import Device, DeviceKind, DeviceState
from controller.errors import Invalid
from controller.fleet import commands, states, usage
from controller.fleet.guard import DEVICE_COLUMNS, AgentDevice
from controller.fleet.schemas import CommandResult, RecordIn, SyncRequest, UsageIn
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


class QuickHeartbeat:
    """The common request — one heartbeat of an online, approved device, newer than what it
    sent before, without inventory — as one UPDATE, with no read of the device before it.

    Whatever does not match (an offline device coming back, a re-enrolled or unapproved one,
    records already applied, results, usage, inventory) goes the full way through `take`.
    """

    def prepare(self, body: SyncRequest) -> tuple[RecordIn, Heartbeat] | None:
        """The one heartbeat of the body, parsed before the write lock, or None."""
        if len(body.records) != 1 or body.records[0].kind != "heartbeat":
            return None
        item = body.records[0]
        try:
            beat = Heartbeat.model_validate(item.body)
        except ValidationError:
            return None  # `take` refuses it, or skips it if it was applied before
        return (item, beat) if beat.inventory is None else None

    def write(self, device_id: int, salt: str, prepared: tuple[RecordIn, Heartbeat]):
        """Apply the heartbeat if the device qualifies; the device as written, or None."""
        item, beat = prepared
        now = utcnow()
        row = _QUICK.first({"device_id": device_id, "salt": salt, "approved": True,
                            "online": DeviceState.ONLINE, "seq": item.seq,
                            "health": _health(beat), "last_seen": now,
                            "updated_at": now})  # fmt: skip
        if row is None:
            return None
        device = AgentDevice(*row)
        device.taken = (item.seq, _wants_inventory(beat, device))
        return device


def take(device: AgentDevice, records: list[RecordIn]) -> tuple[int, bool]:
    """Apply the new records; returns (acknowledged sequence number, inventory wanted).

    The device row gets one UPDATE for the whole batch. Nothing is committed here: the
    caller commits the records together with the answer.
    """
    if device.taken is not None:
        return device.taken  # done by QuickHeartbeat
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


_QUICK = Prepared(
    update(Device)
    .where(Device.id == bindparam("device_id"), Device.agent_salt == bindparam("salt"),
           Device.approved == bindparam("approved"), Device.state == bindparam("online"),
           Device.agent_seq < bindparam("seq"))
    .values(health=bindparam("health"), last_seen=bindparam("last_seen"),
            agent_seq=bindparam("seq"), updated_at=bindparam("updated_at"))
    # RETURNING is compiled without table names, where a bare "id" inside the subquery would
    # be the command's: the device's id is named in full.
    .returning(*DEVICE_COLUMNS, commands.any_open(literal_column("devices.id")))
)  # fmt: skip


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
    changes["health"] = _health(beat)
    changes["last_seen"] = now
    if device.state in (DeviceState.UNKNOWN, DeviceState.OFFLINE):
        states.record(
            device.id, device.office_id, device.state, DeviceState.ONLINE, "heartbeat", now
        )
        device.state = changes["state"] = DeviceState.ONLINE
    if beat.inventory is not None:
        changes["inventory"] = beat.inventory
        device.inventory_hash = changes["inventory_hash"] = beat.inventory_hash
    return _wants_inventory(beat, device)


def _health(beat: Heartbeat) -> dict:
    return beat.model_dump(exclude={"inventory"}, exclude_none=True)


def _wants_inventory(beat: Heartbeat, device: AgentDevice) -> bool:
    return bool(beat.inventory_hash) and beat.inventory_hash != device.inventory_hash
