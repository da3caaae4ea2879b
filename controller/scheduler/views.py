"""Schedule pages: list, new, detail with run history; pause, resume, run now, delete."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from controller.auth.roles import Perm
from controller.errors import DomainError
from controller.extensions import db
from controller.forms import FormState, submit, ui_actor
from controller.offices.models import Office
from controller.offices.service import visible_offices
from controller.scheduler import lease, service
from controller.scheduler.schemas import ScheduleCreate, ScheduleQuery
from controller.security import requires
from controller.types import utcnow

bp = Blueprint("scheduler", __name__, url_prefix="/schedules")
OPTIONAL = ("office_id", "cron", "interval_s", "window_minutes", "command", "message", "script",
            "device_kind", "canary_count", "canary_ids", "wave_size", "max_failure_percent",
            "wait_minutes")  # fmt: skip


@bp.get("/")
@requires(Perm.INVENTORY_READ)
def index():
    """Schedules of the user's offices with next and last run, and who runs them."""
    page = max(1, min(request.args.get("page", 1, type=int), 1_000_000))
    paged = service.list_schedules(current_user, ScheduleQuery(page=page, per_page=100))
    holder = lease.current()
    running = holder if holder is not None and holder.expires_at > utcnow() else None
    return render_template("scheduler/list.html", paged=paged,
                           items=service.describe(paged.items), lease=running)  # fmt: skip


@bp.route("/new", methods=["GET", "POST"])
@requires(Perm.COMMANDS_RUN)
def create():
    """Form for a new schedule."""
    state = FormState(values={"kind": "maintenance", "cron": "0 2 * * *", "window_minutes": 120})
    if request.method == "POST":
        made, state = submit(ScheduleCreate, lambda d: service.create_schedule(ui_actor(), d),
                             required=("name", "kind"), drop_blank=OPTIONAL)  # fmt: skip
        if made is not None:
            flash(_("Schedule “%(name)s” created.", name=made.name), "success")
            return redirect(url_for(".detail", schedule_id=made.id))
    offices = visible_offices(current_user)
    return render_template("scheduler/form.html", form=state, offices=offices), state.status


@bp.get("/<id:schedule_id>")
@requires(Perm.INVENTORY_READ)
def detail(schedule_id: int):
    """One schedule and its latest runs."""
    schedule = service.get_schedule(current_user, schedule_id)
    item = service.describe([schedule], runs=50)[0]
    office = db.session.get(Office, schedule.office_id) if schedule.office_id else None
    return render_template("scheduler/detail.html", schedule=schedule, item=item,
                           office_name=office.name if office else "")  # fmt: skip


def _act(schedule_id: int, action, done: str):
    schedule = service.get_schedule(current_user, schedule_id)
    try:
        action(schedule)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(done, "success")
    return redirect(url_for(".detail", schedule_id=schedule_id))


@bp.post("/<id:schedule_id>/pause")
@requires(Perm.COMMANDS_RUN)
def pause(schedule_id: int):
    """Pause a schedule."""
    return _act(schedule_id, lambda s: service.set_paused(ui_actor(), s, True),
                _("The schedule is paused."))  # fmt: skip


@bp.post("/<id:schedule_id>/resume")
@requires(Perm.COMMANDS_RUN)
def resume(schedule_id: int):
    """Resume a paused schedule."""
    return _act(schedule_id, lambda s: service.set_paused(ui_actor(), s, False),
                _("The schedule runs again."))  # fmt: skip


@bp.post("/<id:schedule_id>/run")
@requires(Perm.COMMANDS_RUN)
def run(schedule_id: int):
    """Ask the scheduler to run the schedule now."""
    return _act(schedule_id, lambda s: service.run_now(ui_actor(), s),
                _("Run requested; the scheduler starts it within a few seconds."))  # fmt: skip


@bp.post("/<id:schedule_id>/delete")
@requires(Perm.COMMANDS_RUN)
def delete(schedule_id: int):
    """Delete a schedule and its run history."""
    schedule = service.get_schedule(current_user, schedule_id)
    name = schedule.name
    service.delete_schedule(ui_actor(), schedule)
    flash(_("Schedule “%(name)s” deleted.", name=name), "success")
    return redirect(url_for(".index"))
