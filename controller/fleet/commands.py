"""Commands: queued by staff, carried on heartbeat answers, run once, results kept."""

import secrets
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select, update

from controller.audit.service import Actor, record
from controller.devices.models import Device
from controller.errors import Invalid
from controller.extensions import db
from controller.fleet.models import Command, CommandState
from controller.fleet.schemas import CommandCreate, CommandResult
from controller.types import utcnow

OUTPUT_LIMIT = 16_000
_OPEN = (CommandState.QUEUED, CommandState.SENT)


def queue(actor: Actor, device: Device, data: CommandCreate) -> Command:
    """Queue a command for an agent-managed device and record who asked for it."""
    if device.agent_salt is None:
        raise Invalid(_("The device has no enrolled agent."), {"kind": _("No agent to run it.")})
    command = Command(
        uid=secrets.token_hex(16), device_id=device.id, kind=data.kind, args=data.args(),
        created_by=actor.label, expires_at=utcnow() + timedelta(minutes=data.ttl_minutes),
    )  # fmt: skip
    db.session.add(command)
    db.session.flush()
    record(actor, "command.queue", command, office_id=device.office_id, label=device.name,
           after={"kind": data.kind.value, "args": command.args, "uid": command.uid})  # fmt: skip
    db.session.commit()
    return command


def for_answer(device: Device) -> list[dict]:
    """Commands to hand to the agent now; ones not confirmed yet are handed again.

    The agent runs each uid at most once, so a lost answer only means a second copy.
    """
    now = utcnow()
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
