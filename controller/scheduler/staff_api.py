"""Schedules through the staff API (/api/v1/schedules)."""

from controller.api import endpoint
from controller.api.actor import api_actor
from controller.api.core import page_out
from controller.auth.roles import Perm
from controller.pagination import Paged
from controller.scheduler import service
from controller.scheduler.schemas import ScheduleCreate, ScheduleDetail, ScheduleOut, ScheduleQuery
from controller.schemas import Page

RUNS_SHOWN = 50


def _detail(schedule) -> ScheduleDetail:
    return ScheduleDetail.model_validate(service.describe([schedule], runs=RUNS_SHOWN)[0])


@endpoint("/schedules", summary="List schedules", tag="schedules", perm=Perm.INVENTORY_READ,
          query=ScheduleQuery, response=Page[ScheduleOut], errors=(422,))  # fmt: skip
def list_schedules(user, query: ScheduleQuery):
    """Schedules of the caller's offices (and county-wide ones for unscoped staff)."""
    paged = service.list_schedules(user, query)
    items = service.describe(paged.items)
    return page_out(Paged(items, paged.total, paged.page, paged.per_page), ScheduleOut)


@endpoint("/schedules", "POST", summary="Create a schedule", tag="schedules",
          perm=Perm.COMMANDS_RUN, body=ScheduleCreate, response=ScheduleDetail, status=201,
          errors=(422,))  # fmt: skip
def create_schedule(user, body: ScheduleCreate):
    """A crontab (office's time zone) or interval schedule; the scheduler takes it up."""
    return _detail(service.create_schedule(api_actor(user), body))


@endpoint("/schedules/<id:schedule_id>", summary="Show a schedule", tag="schedules",
          perm=Perm.INVENTORY_READ, response=ScheduleDetail, errors=(404,))  # fmt: skip
def get_schedule(user, schedule_id: int):
    """A schedule, its next run and its latest runs with their outcomes."""
    return _detail(service.get_schedule(user, schedule_id))


@endpoint("/schedules/<id:schedule_id>", "DELETE", summary="Delete a schedule",
          tag="schedules", perm=Perm.COMMANDS_RUN, status=204, errors=(404,))  # fmt: skip
def delete_schedule(user, schedule_id: int):
    """Remove a schedule and its run history."""
    service.delete_schedule(api_actor(user), service.get_schedule(user, schedule_id))


@endpoint("/schedules/<id:schedule_id>/pause", "POST", summary="Pause a schedule",
          tag="schedules", perm=Perm.COMMANDS_RUN, response=ScheduleDetail,
          errors=(404,))  # fmt: skip
def pause_schedule(user, schedule_id: int):
    """Stop the schedule firing until it is resumed ("run now" still works)."""
    schedule = service.get_schedule(user, schedule_id)
    return _detail(service.set_paused(api_actor(user), schedule, True))


@endpoint("/schedules/<id:schedule_id>/resume", "POST", summary="Resume a schedule",
          tag="schedules", perm=Perm.COMMANDS_RUN, response=ScheduleDetail,
          errors=(404,))  # fmt: skip
def resume_schedule(user, schedule_id: int):
    """Let a paused schedule fire again from its next trigger."""
    schedule = service.get_schedule(user, schedule_id)
    return _detail(service.set_paused(api_actor(user), schedule, False))


@endpoint("/schedules/<id:schedule_id>/run", "POST", summary="Run a schedule now",
          tag="schedules", perm=Perm.COMMANDS_RUN, response=ScheduleDetail, status=202,
          errors=(404, 409))  # fmt: skip
def run_schedule(user, schedule_id: int):
    """Ask the scheduler process to run it once; it starts within a few seconds."""
    schedule = service.get_schedule(user, schedule_id)
    return _detail(service.run_now(api_actor(user), schedule))
