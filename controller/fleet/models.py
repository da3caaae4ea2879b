"""Enrolment tokens, the nonces of signed agent requests, and commands for agents."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from controller.extensions import db
from controller.offices.models import Office, enum_column
from controller.types import UTCDateTime, utcnow


class EnrollmentToken(db.Model):
    """A one-time (or few-times), expiring token that lets agents join an office."""

    __tablename__ = "enrollment_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uses_left: Mapped[int]

    office: Mapped[Office] = relationship(lazy="joined", innerjoin=True)


class AgentNonce(db.Model):
    """A nonce already used by a device, kept while its timestamp is inside the window.

    Every signed request writes one inside the write lock, so on SQLite the table is its
    primary key alone (WITHOUT ROWID, no other index): one b-tree for the commit to write.
    """

    __tablename__ = "agent_nonces"
    __table_args__ = {"sqlite_with_rowid": False}

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CommandKind(StrEnum):
    """What an agent can be asked to do."""

    REBOOT = "reboot"
    SHUTDOWN = "shutdown"
    LOCK = "lock"
    UNLOCK = "unlock"
    MESSAGE = "message"
    RESTART_KIOSK = "restart_kiosk"
    UPDATE_PACKAGES = "update_packages"
    RUN_SCRIPT = "run_script"
    SCREENSHOT = "screenshot"
    END_SESSION = "end_session"  # gateways: end a visitor's portal session


class CommandState(StrEnum):
    """Where a command is: waiting, handed to the agent, finished, or too late."""

    QUEUED = "queued"
    SENT = "sent"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"


class Command(db.Model):
    """A command for one device, carried on heartbeat answers, run once, its result kept."""

    __tablename__ = "commands"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)  # the agent's idempotency key
    batch: Mapped[str | None] = mapped_column(String(32), index=True)  # sent together
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    kind: Mapped[CommandKind] = mapped_column(enum_column(CommandKind))
    args: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[CommandState] = mapped_column(
        enum_column(CommandState), default=CommandState.QUEUED, index=True
    )
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exit_code: Mapped[int | None]
    output: Mapped[str] = mapped_column(Text, default="")
    duration_s: Mapped[float | None]


class DeviceEvent(db.Model):
    """A change of a device's state: what availability reports are computed from."""

    __tablename__ = "device_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    office_id: Mapped[int] = mapped_column(index=True)  # kept for scoping and reports
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(100), default="")

    __table_args__ = (Index("ix_device_events_device_id_at", "device_id", "at"),)


class UsageCounter(db.Model):
    """Usage of a device per local day and metric (e.g. infomat interaction sessions)."""

    __tablename__ = "usage_counters"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)  # in the office's time zone
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    office_id: Mapped[int] = mapped_column(index=True)
    value: Mapped[int] = mapped_column(default=0)


class Screenshot(db.Model):
    """The latest screenshot of a device (older ones are replaced)."""

    __tablename__ = "screenshots"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    command_uid: Mapped[str] = mapped_column(String(32))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    png: Mapped[bytes] = mapped_column(LargeBinary)
