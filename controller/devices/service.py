"""Reading and changing devices, within the caller's scope, with an audit trail."""

from flask_babel import gettext as _
from sqlalchemy import select

from controller.audit.service import Actor, changes, record
from controller.auth.models import User
from controller.auth.scope import get_visible, office_visible
from controller.devices.models import Device
from controller.devices.schemas import DeviceCreate, DeviceUpdate
from controller.errors import Conflict, Invalid
from controller.extensions import db
from controller.fleet.states import transition
from controller.offices.models import Office

FIELDS = (
    "office_id", "kind", "name", "hostname", "mac", "ip", "serial_number", "location",
    "management", "state",
)  # fmt: skip


def snapshot(device: Device) -> dict:
    """The audited fields of a device as plain JSON values."""
    data = {f: (v if isinstance(v := getattr(device, f), int | None) else str(v)) for f in FIELDS}
    data["tags"] = list(device.tags)
    return data


def get_device(user: User, device_id: int) -> Device:
    """One device, or NotFound when it is missing or outside the user's scope."""
    return get_visible(user, Device, device_id, _("No such device."))


def _check(user: User, values: dict, device_id: int | None = None) -> None:
    if "office_id" in values:
        office = db.session.get(Office, values["office_id"])
        if office is None or not office_visible(user, office.id):
            raise Invalid(_("The device was not saved."), {"office_id": _("No such office.")})
    if values.get("mac"):
        stmt = select(Device.id).where(Device.mac == values["mac"])
        if device_id is not None:
            stmt = stmt.where(Device.id != device_id)
        if db.session.scalar(stmt) is not None:
            raise Conflict(_("Another device has this MAC address."), {"mac": _("Already in use.")})


def _check_name(office_id: int, name: str, device_id: int | None) -> None:
    stmt = select(Device.id).where(Device.office_id == office_id, Device.name == name)
    if device_id is not None:
        stmt = stmt.where(Device.id != device_id)
    if db.session.scalar(stmt) is not None:
        raise Conflict(
            _("This office already has a device of this name."), {"name": _("Already taken.")}
        )


def create_device(actor: Actor, data: DeviceCreate) -> Device:
    """Add a device to an office in the actor's scope and record it."""
    values = data.model_dump(exclude_none=True)
    _check(actor.user, values)
    _check_name(values["office_id"], values["name"], None)
    tags = values.pop("tags", [])
    device = Device(**values)
    device.tags = tags
    db.session.add(device)
    db.session.flush()
    record(actor, "device.create", device, office_id=device.office_id, after=snapshot(device))
    db.session.commit()
    return device


def update_device(actor: Actor, device: Device, data: DeviceUpdate) -> Device:
    """Change the given fields of a device and record the difference."""
    values = data.model_dump(exclude_unset=True)
    _check(actor.user, values, device.id)
    _check_name(
        values.get("office_id", device.office_id), values.get("name", device.name), device.id
    )
    before = snapshot(device)
    tags = values.pop("tags", None)
    if "state" in values:  # state changes are events (availability is computed from them)
        transition(device, values.pop("state"), f"set by {actor.label}")
    for key, value in values.items():
        setattr(device, key, value)
    if tags is not None:
        device.tags = tags
    db.session.flush()
    old, new = changes(before, snapshot(device))
    if new:
        record(actor, "device.update", device, office_id=device.office_id, before=old, after=new)
    if "office_id" in new:  # the office it left sees the move in its history too
        record(actor, "device.move", device, office_id=old["office_id"], before=old, after=new)
    db.session.commit()
    return device


def delete_device(actor: Actor, device: Device) -> None:
    """Remove a device and record what it was."""
    record(actor, "device.delete", device, office_id=device.office_id, before=snapshot(device))
    db.session.delete(device)
    db.session.commit()
