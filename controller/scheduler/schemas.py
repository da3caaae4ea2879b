"""Shapes of schedules and runs: one validation for the API and the web form."""

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from pydantic import BeforeValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from controller.devices.models import DeviceKind
from controller.fleet.models import CommandKind
from controller.fleet.schemas import CommandCreate
from controller.scheduler.models import Outcome, ScheduleKind
from controller.schemas import Id, Input, Output, PageQuery

# Kinds that send agent commands, and the commands a schedule may send.
COMMAND_KINDS = (ScheduleKind.MAINTENANCE, ScheduleKind.ROLLOUT)
SCHEDULED_COMMANDS = (CommandKind.UPDATE_PACKAGES, CommandKind.RUN_SCRIPT, CommandKind.REBOOT,
                      CommandKind.RESTART_KIOSK, CommandKind.MESSAGE, CommandKind.LOCK,
                      CommandKind.UNLOCK, CommandKind.SHUTDOWN)  # fmt: skip
ARG_FIELDS = ("command", "message", "script", "device_kind", "canary_count", "canary_ids",
              "wave_size", "max_failure_percent", "wait_minutes")  # fmt: skip
ROLLOUT_ONLY = ("canary_count", "canary_ids", "wave_size", "max_failure_percent", "wait_minutes")


def _split_ids(value):
    """A form gives canary ids as text: "12, 15 17"."""
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part] or None
    return value


def _error(kind: str, text: str, field: str):
    return PydanticCustomError(kind, text, {"field": field})


def check_crontab(value: str) -> str:
    """A 5-field crontab (minute hour day month weekday), refused with a clear reason."""
    fields = value.split()
    if len(fields) != 5:
        raise PydanticCustomError(
            "crontab_fields", "a crontab has 5 fields (minute hour day month weekday), not {n}",
            {"n": len(fields)},
        )  # fmt: skip
    try:
        CronTrigger.from_crontab(" ".join(fields), timezone=ZoneInfo("UTC"))
    except ValueError as exc:
        raise PydanticCustomError("crontab", "not a valid crontab: {reason}",
                                  {"reason": str(exc)}) from None  # fmt: skip
    return " ".join(fields)


class ScheduleCreate(Input):
    """A new schedule: when (crontab or interval), what, for which office."""

    name: str = Field(min_length=1, max_length=200)
    kind: ScheduleKind
    office_id: Id | None = Field(None, description="The office; none: the whole county.")
    cron: str | None = Field(
        None,
        max_length=100,
        description="5-field crontab in the office's "
        "time zone (Europe/Warsaw for the county), e.g. `0 2 * * *`.",
    )
    interval_s: int | None = Field(None, ge=1, le=366 * 86400, description="Or: every N seconds.")
    window_minutes: int | None = Field(
        None,
        ge=1,
        le=24 * 60,
        description="Maintenance: its commands expire at the end of the window.",
    )
    command: CommandKind | None = Field(
        None, description="Maintenance and rollout: what to send (default: update_packages)."
    )
    message: str | None = Field(None, min_length=1, max_length=500)
    script: str | None = Field(None, max_length=64)
    device_kind: DeviceKind | None = Field(None, description="Only devices of this kind.")
    canary_count: int | None = Field(
        None, ge=1, le=100, description="Rollout: devices tried first (default 1)."
    )
    canary_ids: Annotated[list[Id] | None, BeforeValidator(_split_ids)] = Field(
        None, max_length=100, description="Rollout: or these devices first."
    )
    wave_size: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="Rollout: devices per wave after the canaries (default 10).",
    )
    max_failure_percent: int | None = Field(
        None, ge=0, le=100, description="Rollout: halt when more fail (default 10)."
    )
    wait_minutes: int | None = Field(
        None,
        ge=1,
        le=24 * 60,
        description="Rollout: how long a wave may take before missing results count as failures.",
    )

    @field_validator("cron")
    @classmethod
    def _crontab(cls, value):
        return None if value is None or not value.strip() else check_crontab(value)

    @model_validator(mode="after")
    def _consistent(self):
        if (self.cron is None) == (self.interval_s is None):
            raise _error("one_trigger", "give either a crontab or an interval", "cron")
        if self.kind in COMMAND_KINDS:
            command = self.command or CommandKind.UPDATE_PACKAGES
            if command not in SCHEDULED_COMMANDS:
                raise _error("not_scheduled", "this command cannot be scheduled", "command")
            try:
                CommandCreate(kind=command, message=self.message, script=self.script)
            except ValueError as exc:
                error = exc.errors()[0]  # type: ignore[attr-defined]
                where = error["loc"] or ("command",)
                field = (error.get("ctx") or {}).get("field") or str(where[0])
                raise _error(error["type"], error["msg"], field) from None
        else:
            for name in ARG_FIELDS:
                if getattr(self, name) is not None:
                    raise _error("not_for_kind", "{field} is not used by this kind", name)
        if self.kind is not ScheduleKind.MAINTENANCE and self.window_minutes is not None:
            raise _error("not_for_kind", "{field} is not used by this kind", "window_minutes")
        if self.kind is ScheduleKind.MAINTENANCE:
            if self.window_minutes is None:
                raise _error("missing", "{field} is required", "window_minutes")
            for name in ROLLOUT_ONLY:
                if getattr(self, name) is not None:
                    raise _error("not_for_kind", "{field} is not used by this kind", name)
        if self.canary_count is not None and self.canary_ids:
            raise _error("one_of", "give a canary count or canary ids, not both", "canary_ids")
        return self

    def args(self) -> dict:
        """What the job needs besides the trigger, as stored in the schedule."""
        values = {k: getattr(self, k) for k in ARG_FIELDS if getattr(self, k) is not None}
        if self.kind in COMMAND_KINDS:
            values.setdefault("command", CommandKind.UPDATE_PACKAGES)
        return {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}


class ScheduleQuery(PageQuery):
    """Filters of the schedule list."""

    office_id: Id | None = None
    kind: ScheduleKind | None = None


class RunOut(Output):
    """One run of a schedule."""

    id: int
    schedule_id: int
    scheduled_for: datetime
    manual: bool
    missed: int = Field(
        description="Earlier triggers, missed while no scheduler ran, that "
        "this run stands for (coalesced)."
    )
    started_at: datetime
    finished_at: datetime | None
    outcome: Outcome
    message: str
    details: dict
    runner: str


class ScheduleOut(Output):
    """A schedule with its next and last run."""

    id: int
    name: str
    kind: ScheduleKind
    office_id: int | None
    cron: str | None
    interval_s: int | None
    timezone: str
    window_minutes: int | None
    args: dict
    paused: bool
    run_requested_at: datetime | None
    created_by: str
    created_at: datetime
    next_run_at: datetime | None = Field(
        description="When the trigger fires next (none while paused)."
    )
    last_run: RunOut | None


class ScheduleDetail(ScheduleOut):
    """A schedule and its latest runs, newest first."""

    runs: list[RunOut]
