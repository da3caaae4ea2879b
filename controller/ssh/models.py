"""SSH settings of agentless devices, and bulk jobs with one row per host."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from controller.extensions import db
from controller.offices.models import enum_column
from controller.types import UTCDateTime, utcnow


class SshAuth(StrEnum):
    """Which private key the controller signs in with."""

    CONTROLLER = "controller"  # the controller's own key pair (instance folder)
    DEVICE = "device"  # a key of this device's own, stored encrypted


class SshSettings(db.Model):
    """How the controller reaches one device over SSH, and the host key it pinned."""

    __tablename__ = "ssh_settings"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    host: Mapped[str] = mapped_column(String(253), default="")  # blank: the device's IP
    port: Mapped[int] = mapped_column(default=22)
    username: Mapped[str] = mapped_column(String(64), default="root")
    auth: Mapped[SshAuth] = mapped_column(enum_column(SshAuth), default=SshAuth.CONTROLLER)
    device_key: Mapped[str | None] = mapped_column(Text)  # Fernet token, never the clear key
    host_key: Mapped[str | None] = mapped_column(Text)  # "ssh-ed25519 AAAA…", once trusted
    host_key_fingerprint: Mapped[str | None] = mapped_column(String(100))
    pinned_by: Mapped[str | None] = mapped_column(String(254))
    pinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A host that showed another key than the pinned one: kept as an alert until re-trusted.
    mismatch_fingerprint: Mapped[str | None] = mapped_column(String(100))
    mismatch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class JobState(StrEnum):
    """Where a bulk job is."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"  # the process running it died ("interrupted")


class HostState(StrEnum):
    """Where one host of a job is."""

    QUEUED = "queued"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


FINAL_HOST_STATES = (HostState.OK, HostState.FAILED, HostState.TIMEOUT, HostState.CANCELLED)


class Job(db.Model):
    """A command or template run on many devices over SSH."""

    __tablename__ = "ssh_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str | None] = mapped_column(String(40))  # None: a plain command
    command: Mapped[str] = mapped_column(Text, default="")  # the command as shown to people
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    target: Mapped[str] = mapped_column(String(500))  # as asked: "office:3 tag:ap"
    concurrency: Mapped[int] = mapped_column(default=20)
    timeout_s: Mapped[int] = mapped_column(default=300)
    state: Mapped[JobState] = mapped_column(
        enum_column(JobState), default=JobState.QUEUED, index=True
    )
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(254))
    via: Mapped[str] = mapped_column(String(10), default="ui")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    alive_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the runner's pulse

    hosts: Mapped[list["JobHost"]] = relationship(
        back_populates="job", order_by="JobHost.id", cascade="all, delete-orphan"
    )


class JobHost(db.Model):
    """One device of a job: its state, exit code, trimmed output and duration."""

    __tablename__ = "ssh_job_hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("ssh_jobs.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    office_id: Mapped[int] = mapped_column(index=True)  # kept for scoping and history
    device_name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(300), default="")  # user@host:port
    state: Mapped[HostState] = mapped_column(enum_column(HostState), default=HostState.QUEUED)
    exit_code: Mapped[int | None]
    output: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(String(500), default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[float | None]

    job: Mapped[Job] = relationship(back_populates="hosts")
