"""Enrolment: office tokens made by IT admins, exchanged by agents for a device identity."""

import functools
import hashlib
import hmac
import secrets
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from controller.audit.service import Actor, record
from controller.devices.models import Device, DeviceState, Management
from controller.errors import DomainError, Invalid
from controller.extensions import db
from controller.fleet.models import EnrollmentToken
from controller.fleet.schemas import KINDS, EnrollRequest, TokenCreate
from controller.offices.models import Office
from controller.types import utcnow

PREFIX = "tce_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def device_secret(instance_secret: str, device: Device) -> str:
    """The device's HMAC key: derived from the instance secret and the device's salt."""
    return salted_secret(instance_secret, device.id, device.agent_salt)


@functools.lru_cache(maxsize=1 << 16)
def salted_secret(instance_secret: str, device_id: int, salt: str) -> str:
    """The HMAC key of device_id enrolled with salt (kept: derived again only for a new salt)."""
    message = f"agent:{device_id}:{salt}".encode()
    return hmac.new(instance_secret.encode(), message, hashlib.sha256).hexdigest()


def create_token(
    actor: Actor, office: Office, data: TokenCreate, *, commit: bool = True
) -> tuple[EnrollmentToken, str]:
    """A new token for office; returns the row and the only copy of the secret.

    With commit=False the token joins the caller's transaction (a job that hands it out).
    """
    secret = PREFIX + secrets.token_urlsafe(24)
    token = EnrollmentToken(
        office_id=office.id, token_hash=_digest(secret), prefix=secret[:10],
        created_by=actor.label, expires_at=utcnow() + timedelta(hours=data.ttl_hours),
        uses_left=data.uses,
    )  # fmt: skip
    db.session.add(token)
    db.session.flush()
    record(actor, "enrollment_token.create", token, office_id=office.id, label=token.prefix,
           after={"ttl_hours": data.ttl_hours, "uses": data.uses})  # fmt: skip
    if commit:
        db.session.commit()
    return token, secret


def active_tokens(office_id: int) -> list[EnrollmentToken]:
    """The office's tokens that can still be used, newest first."""
    stmt = (
        select(EnrollmentToken)
        .where(EnrollmentToken.office_id == office_id, EnrollmentToken.uses_left > 0,
               EnrollmentToken.expires_at > utcnow())
        .order_by(EnrollmentToken.id.desc())
    )  # fmt: skip
    return list(db.session.scalars(stmt))


def enroll(data: EnrollRequest, instance_secret: str, remote_addr: str) -> tuple[Device, str]:
    """Use up one use of a token and give the agent a device (matched by MAC) and a secret."""
    token = db.session.scalar(
        select(EnrollmentToken).where(EnrollmentToken.token_hash == _digest(data.token))
    )
    if token is None or token.uses_left < 1 or token.expires_at <= utcnow():
        # One answer for unknown, used-up and expired tokens: nothing to probe.
        raise DomainError(_("The enrolment token is unknown, expired or used up."), status=403,
                          code="enrollment_refused")  # fmt: skip
    device = None
    if data.mac:
        device = db.session.scalar(select(Device).where(Device.mac == data.mac))
        if device is not None and device.office_id != token.office_id:
            raise Invalid(_("This MAC address belongs to a device of another office."),
                          {"mac": _("Already in use.")})  # fmt: skip
    created = device is None
    if created:
        device = Device(office_id=token.office_id, kind=KINDS[data.kind],
                        name=_free_name(token.office_id, data.hostname), mac=data.mac,
                        approved=not token.office.require_device_approval)  # fmt: skip
        db.session.add(device)
    device.hostname = data.hostname
    device.management = Management.AGENT
    device.state = DeviceState.UNKNOWN
    device.agent_salt = secrets.token_hex(16)  # re-enrolment replaces the old credential
    device.agent_seq = 0
    device.enrolled_at = utcnow()
    token.uses_left -= 1
    db.session.flush()
    actor = Actor(None, "agent", remote_addr)
    record(actor, "device.enroll", device, office_id=device.office_id,
           after={"hostname": data.hostname, "mac": data.mac, "new": created,
                  "token": token.prefix, "os": data.os})  # fmt: skip
    db.session.commit()
    return device, device_secret(instance_secret, device)


def _free_name(office_id: int, hostname: str) -> str:
    base = hostname.split(".")[0].upper()[:90] or "AGENT"
    taken = set(db.session.scalars(
        select(Device.name).where(Device.office_id == office_id, Device.name.startswith(base))
    ))  # fmt: skip
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def approve(actor: Actor, device: Device) -> Device:
    """Let an enrolled device that waits for approval take part."""
    if not device.approved:
        device.approved = True
        record(actor, "device.approve", device, office_id=device.office_id,
               after={"approved": True})  # fmt: skip
        db.session.commit()
    return device
