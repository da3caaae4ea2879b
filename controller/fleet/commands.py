"""Commands: queued by staff, carried on heartbeat answers, run once, results kept."""

import secrets
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import exists, or_, select, update

from controller.audit.service import Actor, record
from controller.auth.scope import in_scope
from controller.devices.models import Device
from controller.errors import Invalid, NotFound
from controller.extensions import db
from controller.fleet.models import Command, CommandKind, CommandState, Screenshot
from controller.fleet.schemas import CommandCreate, CommandResult, Target
from controller.types import utcnow

OUTPUT_LIMIT = 16_000
_OPEN = (CommandState.QUEUED, CommandState.SENT)


def queue(actor: Actor, device: Device, data: CommandCreate) -> Command:
    """Queue a command for an agent-managed device and record who asked for it."""
    if device.agent_salt is None:
        raise Invalid(_("The device has no enrolled agent."), {"kind": _("No agent to run it.")})
    command = _add(actor, device, data, None)
    db.session.commit()
    return command


def queue_many(actor: Actor, target: Target, data: CommandCreate) -> str:
    """Queue one command for every agent device of the target in the actor's offices."""
    stmt = select(Device).where(Device.agent_salt.is_not(None),
                                in_scope(actor.user, Device.office_id))  # fmt: skip
    if target.device_ids:
        stmt = stmt.where(Device.id.in_(target.device_ids))
    if target.office_id is not None:
        stmt = stmt.where(Device.office_id == target.office_id)
    if target.kind is not None:
        stmt = stmt.where(Device.kind == target.kind)
    devices = db.session.scalars(stmt.order_by(Device.id)).all()
    if not devices:
        raise Invalid(_("No device with an agent matches in your offices."),
                      {"device_ids": _("Nothing to send the command to.")})  # fmt: skip
    batch = secrets.token_hex(16)
    for device in devices:
        _add(actor, device, data, batch)
    db.session.commit()
    return batch


def _add(actor: Actor, device: Device, data: CommandCreate, batch: str | None) -> Command:
    command = Command(
        uid=secrets.token_hex(16), batch=batch, device_id=device.id, kind=data.kind,
        args=data.args(), created_by=actor.label,
        expires_at=utcnow() + timedelta(minutes=data.ttl_minutes),
    )  # fmt: skip
    db.session.add(command)
    db.session.flush()
    record(actor, "command.queue", command, office_id=device.office_id, label=device.name,
           after={"kind": data.kind.value, "args": command.args, "uid": command.uid,
                  "batch": batch})  # fmt: skip
    return command


def batch_commands(user, batch: str) -> list[Command]:
    """The commands of a batch on devices the user may see (NotFound when none)."""
    stmt = (
        select(Command)
        .join(Device, Device.id == Command.device_id)
        .where(Command.batch == batch, in_scope(user, Device.office_id))
        .order_by(Command.id)
    )
    found = list(db.session.scalars(stmt))
    if not found:
        raise NotFound(_("No such batch of commands."))
    return found


def counts(commands: list[Command]) -> dict[str, int]:
    """Commands per state."""
    out: dict[str, int] = {}
    for command in commands:
        out[command.state.value] = out.get(command.state.value, 0) + 1
    return out


def any_open(device_id):
    """SQL: whether the device (an id column or value) has commands queued or sent."""
    return exists().where(Command.device_id == device_id, or_(*(Command.state == s for s in _OPEN)))


def for_answer(device) -> list[dict]:
    """Commands to hand to the agent now; ones not confirmed yet are handed again.

    The agent runs each uid at most once, so a lost answer only means a second copy.
    """
    now = utcnow()
    # The common case, nothing open (read with the device row under the write lock; taking
    # records in can only close commands): no statement, no ORM at all.
    if not device.commands_open:
        return []
    db.session.execute(
        update(Command)
        .where(Command.device_id == device.id, Command.state.in_(_OPEN), Command.expires_at <= now)
        .values(state=CommandState.EXPIRED)
    )
    pending = db.session.scalars(
        select(Command)
        .where(Command.device_id == device.id, Command.state.in_(_OPEN))
        .order_by(Command.id)
    ).all()
    for command in pending:
        command.state, command.sent_at = CommandState.SENT, command.sent_at or now
    return [
        {"uid": c.uid, "kind": c.kind.value, "args": c.args,
         "expires_at": c.expires_at.isoformat()}
        for c in pending
    ]  # fmt: skip


def apply_result(device: Device, result: CommandResult) -> None:
    """Store a command's result the first time it arrives (later copies change nothing)."""
    command = db.session.scalar(
        select(Command).where(Command.uid == result.uid, Command.device_id == device.id)
    )
    if command is None or command.state in (CommandState.DONE, CommandState.FAILED):
        return
    command.state = CommandState.DONE if result.exit_code == 0 else CommandState.FAILED
    command.exit_code = result.exit_code
    command.output = result.output[-OUTPUT_LIMIT:]
    command.duration_s = result.duration_s
    command.finished_at = utcnow()


def history(device: Device, limit: int = 50) -> list[Command]:
    """The device's latest commands, newest first."""
    stmt = select(Command).where(Command.device_id == device.id)
    return list(db.session.scalars(stmt.order_by(Command.id.desc()).limit(limit)))


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def store_screenshot(device, uid: str, png: bytes) -> int:
    """Keep the screenshot of a screenshot command of this device (replacing the last one)."""
    command = db.session.scalar(
        select(Command).where(Command.uid == uid[:32], Command.device_id == device.id,
                              Command.kind == CommandKind.SCREENSHOT)
    )  # fmt: skip
    if command is None:
        raise NotFound(_("No such screenshot command."))
    if not png.startswith(PNG_MAGIC):
        raise Invalid(_("The screenshot is not a PNG image."), {"body": _("Not a PNG.")})
    shot = db.session.get(Screenshot, device.id) or Screenshot(device_id=device.id)
    shot.command_uid, shot.taken_at, shot.png = command.uid, utcnow(), png
    db.session.add(shot)
    return len(png)


def latest_screenshot(device_id: int) -> Screenshot | None:
    """The device's last screenshot, if any."""
    return db.session.get(Screenshot, device_id)
