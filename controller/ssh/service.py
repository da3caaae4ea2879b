"""SSH settings of devices, host key trust, and turning a device into a connectable endpoint."""

from flask import current_app
from flask_babel import gettext as _

from controller.audit.service import Actor, changes, record
from controller.devices.models import Device, Management
from controller.errors import Conflict, Invalid
from controller.extensions import db
from controller.ssh import hostkeys, keys
from controller.ssh.client import Endpoint
from controller.ssh.errors import SshError
from controller.ssh.models import SshAuth, SshSettings
from controller.ssh.schemas import SshSettingsIn, SshSettingsOut
from controller.types import utcnow


def settings_of(device: Device) -> SshSettings:
    """The device's SSH settings (defaults, not yet stored, when it has none)."""
    found = db.session.get(SshSettings, device.id)
    if found is None:
        found = SshSettings(device_id=device.id, host="", port=22, username="root",
                            auth=SshAuth.CONTROLLER)  # fmt: skip
    return found


def out(settings: SshSettings) -> SshSettingsOut:
    """The settings as shown (never the key)."""
    return SshSettingsOut.model_validate(
        {
            **{
                c: getattr(settings, c) for c in SshSettingsOut.model_fields if hasattr(settings, c)
            },
            "has_device_key": settings.device_key is not None,
        }  # fmt: skip
    )


def _require_ssh(device: Device) -> None:
    if device.management != Management.SSH:
        raise Invalid(_("The device is not managed over SSH (change its management first)."),
                      {"management": _("Must be “SSH”.")})  # fmt: skip


def _snapshot(s: SshSettings) -> dict:
    return {"host": s.host, "port": s.port, "username": s.username,
            "auth": s.auth.value if s.auth else None, "device_key": s.device_key is not None,
            "host_key_fingerprint": s.host_key_fingerprint}  # fmt: skip


def update(actor: Actor, device: Device, data: SshSettingsIn) -> SshSettings:
    """Change how the device is reached; a given host key is pinned at once."""
    _require_ssh(device)
    settings = settings_of(device)
    before = _snapshot(settings) if settings.updated_at else {}
    settings.host, settings.port, settings.username = data.host, data.port, data.username
    settings.auth = data.auth
    if data.private_key is not None:
        try:
            keys.load_private_key(data.private_key)
        except keys.BadKey:
            raise Invalid(_("The private key cannot be read."), {"private_key": _(
                "Give an unencrypted ed25519, ECDSA or RSA private key.")}) from None  # fmt: skip
        settings.device_key = keys.encrypt(current_app.config["SECRET_KEY"], data.private_key)
    if data.auth == SshAuth.DEVICE and settings.device_key is None:
        raise Invalid(_("Please correct the marked fields."),
                      {"private_key": _("This device has no key of its own yet.")})  # fmt: skip
    if data.host_key is not None:
        try:
            key = hostkeys.parse_key_line(data.host_key)
        except ValueError:
            problem = {"host_key": _("Not a public key (“ssh-ed25519 AAAA…”).")}
            raise Invalid(_("Please correct the marked fields."), problem) from None
        _pin(actor, settings, key)
    db.session.add(settings)
    settings.updated_at = utcnow()
    old, new = changes(before, _snapshot(settings))
    record(actor, "ssh.settings", device, office_id=device.office_id, before=old, after=new)
    db.session.commit()
    return settings


def _pin(actor: Actor, settings: SshSettings, key) -> None:
    settings.host_key = hostkeys.key_line(key)
    settings.host_key_fingerprint = keys.fingerprint(key)
    settings.pinned_by, settings.pinned_at = actor.label, utcnow()
    settings.mismatch_fingerprint = settings.mismatch_at = None


def host_of(device: Device, settings: SshSettings) -> str:
    """The address to connect to: the SSH host, or else the device's IP."""
    return settings.host or device.ip or ""


def fetch(device: Device) -> tuple[str, str]:
    """The key the device's host shows now, as (key line, fingerprint); nothing is stored."""
    _require_ssh(device)
    settings = settings_of(device)
    host = host_of(device, settings)
    if not host:
        raise Invalid(_("The device has no address (set the SSH host or the IP)."))
    try:
        key = hostkeys.fetch(host, settings.port, current_app.config["SSH_CONNECT_TIMEOUT"])
    except SshError as exc:
        raise Conflict(_("The host key could not be fetched: %(problem)s",
                         problem=str(exc))) from None  # fmt: skip
    return hostkeys.key_line(key), keys.fingerprint(key)


def trust(actor: Actor, device: Device, fingerprint: str) -> SshSettings:
    """Pin the host's key if it still has the fingerprint the admin confirmed."""
    key_line, seen = fetch(device)
    if seen != fingerprint.strip():
        raise Conflict(_("The host now shows the key %(seen)s, not the one confirmed; "
                         "nothing was trusted.", seen=seen))  # fmt: skip
    settings = settings_of(device)
    before = settings.host_key_fingerprint
    _pin(actor, settings, hostkeys.parse_key_line(key_line))
    settings.updated_at = utcnow()
    db.session.add(settings)
    record(actor, "ssh.trust", device, office_id=device.office_id,
           before={"host_key_fingerprint": before},
           after={"host_key_fingerprint": seen})  # fmt: skip
    db.session.commit()
    return settings


def record_mismatch(device: Device, offered: str) -> None:
    """Keep the alert of a host that showed another key (the caller commits)."""
    settings = db.session.get(SshSettings, device.id)
    if settings is None:
        return
    settings.mismatch_fingerprint, settings.mismatch_at = offered, utcnow()
    record(Actor(None, "ssh"), "ssh.host_key_changed", device, office_id=device.office_id,
           before={"host_key_fingerprint": settings.host_key_fingerprint},
           after={"offered": offered})  # fmt: skip


def endpoint(device: Device, settings: SshSettings | None, controller_key, secret_key: str):
    """Everything needed to connect to the device (SshError when something is missing)."""
    if settings is None or not settings.host_key:
        raise SshError("not_pinned")
    host = host_of(device, settings)
    if not host:
        raise SshError("no_address")
    pkey = controller_key
    if settings.auth == SshAuth.DEVICE:
        try:
            pkey = keys.load_private_key(keys.decrypt(secret_key, settings.device_key or ""))
        except keys.BadKey as exc:
            raise SshError("key_unusable", str(exc)) from None
    host_key = hostkeys.parse_key_line(settings.host_key)
    return Endpoint(host, settings.port, settings.username, pkey, host_key)


def key_alerts(user) -> list[tuple[Device, SshSettings]]:
    """Devices of the user's offices whose host showed a key other than the pinned one."""
    from sqlalchemy import select

    from controller.auth.scope import in_scope

    stmt = (
        select(Device, SshSettings)
        .join(SshSettings, SshSettings.device_id == Device.id)
        .where(SshSettings.mismatch_fingerprint.is_not(None), in_scope(user, Device.office_id))
        .order_by(SshSettings.mismatch_at.desc())
    )
    return [(d, s) for d, s in db.session.execute(stmt)]
