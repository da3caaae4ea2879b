"""What staff do with sessions: live and past lists, ending one by hand; LAN neighbours."""

import secrets
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import select

from controller.audit.service import Actor, record
from controller.auth.scope import get_visible, in_scope, office_visible
from controller.devices.models import Device, DeviceKind, Management
from controller.errors import Conflict, Invalid, NotFound
from controller.extensions import db
from controller.fleet.models import Command, CommandKind
from controller.pagination import Paged, paginate
from controller.portal.models import Neighbour, PortalSession
from controller.portal.policy import COUNTY_ZONE
from controller.portal.schemas import AdoptIn, DiscoveryRecord, SessionQuery
from controller.types import utcnow

END_TTL = timedelta(hours=1)


def list_sessions(user, query: SessionQuery) -> Paged:
    """Sessions of the user's offices, newest first, filtered."""
    stmt = select(PortalSession).where(in_scope(user, PortalSession.office_id))
    if query.office_id:
        stmt = stmt.where(PortalSession.office_id == query.office_id)
    if query.live is not None:
        done = PortalSession.ended_at.is_not(None)
        stmt = stmt.where(~done if query.live else done)
    if query.method:
        stmt = stmt.where(PortalSession.method == query.method)
    if query.pseudonym:
        stmt = stmt.where(PortalSession.pseudonym.startswith(query.pseudonym, autoescape=True))
    if query.since:
        stmt = stmt.where(PortalSession.started_at >= _day_start(query.since))
    if query.until:
        stmt = stmt.where(PortalSession.started_at < _day_start(query.until + timedelta(days=1)))
    return paginate(stmt.order_by(PortalSession.id.desc()), query.page, query.per_page)


def _day_start(day):
    return datetime.combine(day, time(0), ZoneInfo(COUNTY_ZONE))


def get_session(user, session_id: int) -> PortalSession:
    """A session of the user's offices (NotFound otherwise)."""
    return get_visible(user, PortalSession, session_id, _("No such session."))


def end_by_hand(actor: Actor, session: PortalSession) -> PortalSession:
    """Ask the session's gateway to end it now (an end_session command) and record who did."""
    if session.ended_at is not None:
        raise Conflict(_("The session has ended already."))
    now = utcnow()
    gateway = db.session.get(Device, session.device_id) if session.device_id else None
    uid = None
    if gateway is None or gateway.agent_salt is None:
        session.ended_at, session.end_reason = now, "admin"  # no gateway left to ask
    else:
        uid = secrets.token_hex(16)
        db.session.add(Command(uid=uid, device_id=gateway.id, kind=CommandKind.END_SESSION,
                               args={"session_id": session.session_id}, created_by=actor.label,
                               expires_at=now + END_TTL))  # fmt: skip
    session.end_requested_at, session.end_requested_by = now, actor.label
    record(actor, "portal_session.end", session, office_id=session.office_id,
           label=session.session_id, after={"command": uid})  # fmt: skip
    db.session.commit()
    return session


def note_neighbours(device, data: DiscoveryRecord) -> None:
    """Remember what a gateway saw on its office LAN (not committed here)."""
    known = {n.mac: n for n in db.session.scalars(
        select(Neighbour).where(Neighbour.office_id == device.office_id)
    )}  # fmt: skip
    now = utcnow()
    for item in data.neighbours:
        mac = item.mac.lower()
        row = known.get(mac)
        if row is None:
            row = known[mac] = Neighbour(office_id=device.office_id, mac=mac, first_seen=now)
            db.session.add(row)
        row.ip, row.last_seen = item.ip, now
    db.session.flush()


def unknown_neighbours(user) -> list[Neighbour]:
    """MACs seen by gateways of the user's offices that no device in the inventory has."""
    stmt = (
        select(Neighbour)
        .where(in_scope(user, Neighbour.office_id),
               Neighbour.mac.not_in(select(Device.mac).where(Device.mac.is_not(None))))
        .order_by(Neighbour.office_id, Neighbour.last_seen.desc())
        .limit(500)
    )  # fmt: skip
    return list(db.session.scalars(stmt))


def adopt(actor: Actor, user, data: AdoptIn) -> Device:
    """Create a device for a discovered MAC of one of the user's offices."""
    neighbour = db.session.get(Neighbour, (data.office_id, data.mac))
    if neighbour is None or not office_visible(user, data.office_id):
        raise NotFound(_("No such neighbour."))
    if db.session.scalar(select(Device.id).where(Device.mac == data.mac)) is not None:
        raise Conflict(_("A device with this MAC address exists already."))
    taken = db.session.scalar(select(Device.id).where(Device.office_id == data.office_id,
                                                      Device.name == data.name))  # fmt: skip
    if taken is not None:
        raise Invalid(_("Please correct the marked fields."), {"name": _("Already taken.")})
    device = Device(office_id=data.office_id, kind=DeviceKind(data.kind), name=data.name,
                    mac=data.mac, ip=neighbour.ip, management=Management.NONE)  # fmt: skip
    db.session.add(device)
    db.session.flush()
    record(actor, "device.adopt", device, office_id=device.office_id,
           after={"mac": data.mac, "kind": data.kind, "name": data.name})  # fmt: skip
    db.session.commit()
    return device
