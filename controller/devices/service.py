"""Reading and changing devices, within the caller's scope, with an audit trail."""

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import contains_eager

from controller.audit.service import Actor, changes, record
from controller.auth.models import User
from controller.auth.scope import office_visible, scoped
from controller.devices.models import Device, DeviceTag
from controller.devices.schemas import DeviceCreate, DeviceQuery, DeviceUpdate
from controller.errors import Conflict, Invalid, NotFound
from controller.extensions import db
from controller.offices.models import Office
from controller.pagination import Paged, paginate

FIELDS = (
    "office_id", "kind", "name", "hostname", "mac", "ip", "serial_number", "location",
    "management", "state",
)  # fmt: skip
_REQUIRED = ("office_id", "kind", "name", "management", "state")


def snapshot(device: Device) -> dict:
    """The audited fields of a device as plain JSON values."""
    data = {f: (v if isinstance(v := getattr(device, f), int | None) else str(v)) for f in FIELDS}
    data["tags"] = list(device.tags)
    return data


def list_devices(user: User, query: DeviceQuery) -> Paged:
    """A page of the devices the user may see, filtered and searched."""
    stmt = scoped(select(Device), user, Device.office_id).join(Device.office)
    stmt = stmt.options(contains_eager(Device.office))
    if query.office_id is not None:
        stmt = stmt.where(Device.office_id == query.office_id)
    if query.kind is not None:
        stmt = stmt.where(Device.kind == query.kind)
    if query.state is not None:
        stmt = stmt.where(Device.state == query.state)
    if query.tag:
        tagged = select(DeviceTag.device_id).where(DeviceTag.name == query.tag.lower())
        stmt = stmt.where(Device.id.in_(tagged))
    if query.q:
        like = f"%{query.q.lower()}%"
        columns = (Device.name, Device.hostname, Device.mac, Device.ip, Device.serial_number)
        stmt = stmt.where(or_(*(func.lower(c).like(like) for c in columns)))
    stmt = stmt.order_by(Office.name, Device.name, Device.id)
    return paginate(stmt, query.page, query.per_page)


def counts_by_office(user: User) -> dict[int, dict[str, dict[str, int]]]:
    """Per visible office: device counts by kind and by state."""
    stmt = scoped(
        select(Device.office_id, Device.kind, Device.state, func.count()), user, Device.office_id
    ).group_by(Device.office_id, Device.kind, Device.state)
    out: dict[int, dict[str, dict[str, int]]] = {}
    for office_id, kind, state, n in db.session.execute(stmt):
        entry = out.setdefault(office_id, {"kind": {}, "state": {}, "total": {"all": 0}})
        entry["kind"][kind.value] = entry["kind"].get(kind.value, 0) + n
        entry["state"][state.value] = entry["state"].get(state.value, 0) + n
        entry["total"]["all"] += n
    return out


def get_device(user: User, device_id: int) -> Device:
    """One device, or NotFound when it is missing or outside the user's scope."""
    device = db.session.get(Device, device_id)
    if device is None or not office_visible(user, device.office_id):
        raise NotFound(_("No such device."))
    return device


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
    for key in _REQUIRED:
        if key in values and values[key] is None:
            values.pop(key)
    _check(actor.user, values, device.id)
    _check_name(
        values.get("office_id", device.office_id), values.get("name", device.name), device.id
    )
    before = snapshot(device)
    tags = values.pop("tags", None)
    for key, value in values.items():
        setattr(device, key, "" if value is None and key not in ("mac", "ip") else value)
    if tags is not None:
        device.tags = tags
    db.session.flush()
    old, new = changes(before, snapshot(device))
    if new:
        record(actor, "device.update", device, office_id=device.office_id, before=old, after=new)
    db.session.commit()
    return device


def delete_device(actor: Actor, device: Device) -> None:
    """Remove a device and record what it was."""
    record(actor, "device.delete", device, office_id=device.office_id, before=snapshot(device))
    db.session.delete(device)
    db.session.commit()
