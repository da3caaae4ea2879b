"""The alerts page: agent devices that stopped answering, and recent state changes."""

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select

from controller.auth.roles import Perm
from controller.auth.scope import in_scope
from controller.devices.models import Device, DeviceState, Management
from controller.extensions import db
from controller.fleet import commands
from controller.fleet.models import DeviceEvent
from controller.security import requires

bp = Blueprint("fleet", __name__)


@bp.get("/alerts")
@requires(Perm.INVENTORY_READ)
def alerts():
    """Offline agent devices of the user's offices, longest silent first, and the event log."""
    offline = db.session.scalars(
        select(Device)
        .where(Device.state == DeviceState.OFFLINE, Device.management == Management.AGENT,
               in_scope(current_user, Device.office_id))
        .order_by(Device.last_seen.asc())
    ).all()  # fmt: skip
    events = db.session.execute(
        select(DeviceEvent, Device.name)
        .join(Device, Device.id == DeviceEvent.device_id)
        .where(in_scope(current_user, DeviceEvent.office_id))
        .order_by(DeviceEvent.id.desc())
        .limit(100)
    ).all()
    waiting = db.session.scalars(
        select(Device)
        .where(Device.approved.is_(False), in_scope(current_user, Device.office_id))
        .order_by(Device.enrolled_at)
    ).all()
    return render_template("fleet/alerts.html", offline=offline, events=events, waiting=waiting)


@bp.get("/commands/<batch>")
@requires(Perm.INVENTORY_READ)
def batch(batch: str):
    """Progress of a command sent to many devices: one row per device."""
    found = commands.batch_commands(current_user, batch[:32])
    names = dict(db.session.execute(
        select(Device.id, Device.name).where(Device.id.in_({c.device_id for c in found}))
    ).all())  # fmt: skip
    return render_template("fleet/batch.html", batch=batch, commands=found, names=names,
                           counts=commands.counts(found))  # fmt: skip
