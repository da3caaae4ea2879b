"""Taking in an agent's spooled records: in order, each sequence number once."""

from functools import cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import bindparam, update

from controller.devices.models import Device, DeviceKind, DeviceState
from controller.errors import Invalid
from controller.fleet import commands, states, usage
from controller.fleet.guard import AgentDevice
from controller.fleet.schemas import CommandResult, RecordIn, UsageIn
from controller.prepared import Prepared, Target
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


class Batch:
    """An agent's records with their bodies validated, before the write lock is taken.

    Only `apply` needs the lock. A record whose body is not valid fails there, when it is
    due: one the controller applied before is skipped as always, whatever it holds.
    """

    def __init__(self, records: list[RecordIn]) -> None:
        self.records = [(item, _parsed(item)) for item in records]

    def apply(self, device: AgentDevice, target: Target | None = None) -> tuple[int, bool]:
        """Apply the new records; returns (acknowledged sequence number, inventory wanted).

        The device row gets one UPDATE for the whole batch (on target if given, the
        request's connection otherwise). Nothing is committed here: the caller commits the
        records together with the answer.
        """
        wanted, changes = False, {}
        for item, body in self.records:
            if item.seq <= device.agent_seq:
                continue  # sent before, answer lost: already applied
            if isinstance(body, Invalid):
                raise body
            if item.kind == "heartbeat":
                wanted = _heartbeat(device, body, changes)
            elif item.kind == "result":
                commands.apply_result(device, body)
            elif item.kind == "usage":
                usage.add(device, body)
            else:  # session, discovery: what gateways report of the captive portal
                _portal(device, item, body)
            device.agent_seq = changes["agent_seq"] = item.seq
        if changes:
            changes["updated_at"] = utcnow()
            statement = _device_update(frozenset(changes))
            statement.execute({**changes, "device_id": device.id}, target)
        return device.agent_seq, wanted

    @property
    def heartbeats_only(self) -> bool:
        """Whether every record is a heartbeat."""
        return all(item.kind == "heartbeat" for item, _body in self.records)


@cache
def _device_update(columns: frozenset[str]) -> Prepared:
    table = Device.__table__
    values = {name: bindparam(name, type_=table.c[name].type) for name in sorted(columns)}
    return Prepared(update(table).where(table.c.id == bindparam("device_id")).values(values))


@cache
def _models() -> dict:
    from controller.portal.schemas import DiscoveryRecord, SessionRecord

    return {"heartbeat": Heartbeat, "result": CommandResult, "usage": UsageIn,
            "session": SessionRecord, "discovery": DiscoveryRecord}  # fmt: skip


def _parsed(item: RecordIn):
    """The record's body as its kind's model (a heartbeat: with what goes on the device row),
    or the Invalid error its body gets."""
    try:
        body = _models()[item.kind].model_validate(item.body)
    except ValidationError as exc:
        message = f"record {item.seq} is not a valid {item.kind}"
        return Invalid.from_pydantic(exc, message)
    if item.kind == "heartbeat":
        return body, body.model_dump(exclude={"inventory"}, exclude_none=True)
    return body


def _portal(device: AgentDevice, item: RecordIn, body) -> None:
    from controller.portal import monitor, sessions

    if device.kind != DeviceKind.GATEWAY:
        raise Invalid(f"record {item.seq}: only gateways send {item.kind} records",
                      {"records": "not a gateway"})  # fmt: skip
    if item.kind == "session":
        sessions.apply_record(device, body)
    else:
        monitor.note_neighbours(device, body)


def _heartbeat(device: AgentDevice, parsed, changes: dict) -> bool:
    beat, health = parsed
    now = utcnow()
    changes["health"] = health
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
