"""Device pages: filtered list, detail, create, edit, delete."""

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import ValidationError

from controller.auth.roles import Perm
from controller.devices import queries, service
from controller.devices.schemas import DeviceCreate, DeviceQuery, DeviceUpdate
from controller.errors import DomainError
from controller.fleet import commands, enrollment
from controller.fleet.schemas import BulkCommand, CommandCreate
from controller.forms import FormState, submit, ui_actor
from controller.labels import label
from controller.offices.service import visible_offices
from controller.security import requires
from controller.validation import field_messages

bp = Blueprint("devices", __name__, url_prefix="/devices")
_REQUIRED = ("office_id", "kind", "name", "management", "state")
_FILTERS = ("office_id", "kind", "state", "tag", "q", "page")


@bp.get("/")
@requires(Perm.INVENTORY_READ)
def index():
    """Devices of the user's offices, filtered by office, kind, state, tag or text."""
    args = {k: v for k in _FILTERS if (v := request.args.get(k, "").strip())}
    errors: dict[str, str] = {}
    try:
        query = DeviceQuery.model_validate(args)
    except ValidationError as exc:
        errors = field_messages(exc)
        query = DeviceQuery()
    paged = queries.list_devices(current_user, query)
    page = render_template(
        "devices/list.html", paged=paged, filters=args, errors=errors,
        offices=visible_offices(current_user),
        command_form=FormState(values={"kind": "message", "ttl_minutes": 60}),
    )  # fmt: skip
    return page, 400 if errors else 200


@bp.get("/<id:device_id>")
@requires(Perm.INVENTORY_READ)
def detail(device_id: int):
    """One device: facts, health, inventory and its commands."""
    return detail_page(service.get_device(current_user, device_id))


def detail_page(device, command_form: FormState | None = None, **extra):
    """The device page, with a form's state or other extras (SSH settings, a fetched key)."""
    return render_template(
        "devices/detail.html", device=device, commands=commands.history(device),
        screenshot=commands.latest_screenshot(device.id),
        command_form=command_form or FormState(values={"kind": "message", "ttl_minutes": 60}),
        **extra,
    )  # fmt: skip


@bp.post("/<id:device_id>/commands")
@requires(Perm.COMMANDS_RUN)
def queue_command(device_id: int):
    """Send a command to the device's agent (it runs with the next heartbeat)."""
    device = service.get_device(current_user, device_id)
    queued, state = submit(
        CommandCreate, lambda data: commands.queue(ui_actor(), device, data),
        required=("kind", "ttl_minutes"), drop_blank=("message", "script"),
    )  # fmt: skip
    if queued is None:
        return detail_page(device, state), state.status
    flash(_("Command “%(kind)s” queued; the agent gets it with its next heartbeat.",
            kind=label(queued.kind)), "success")  # fmt: skip
    return redirect(url_for(".detail", device_id=device.id))


def _form(state: FormState, device=None):
    page = render_template(
        "devices/form.html", form=state, device=device, offices=visible_offices(current_user)
    )
    return page, state.status


@bp.route("/new", methods=["GET", "POST"])
@requires(Perm.DEVICES_WRITE)
def create():
    """Form for a new device."""
    state = FormState(values={"management": "none", "state": "unknown",
                              "office_id": request.args.get("office_id", "")})  # fmt: skip
    if request.method == "POST":
        device, state = submit(
            DeviceCreate, lambda d: service.create_device(ui_actor(), d), required=_REQUIRED
        )
        if device is not None:
            flash(_("Device “%(name)s” created.", name=device.name), "success")
            return redirect(url_for(".detail", device_id=device.id))
    return _form(state)


@bp.route("/<id:device_id>/edit", methods=["GET", "POST"])
@requires(Perm.DEVICES_WRITE)
def edit(device_id: int):
    """Form to change a device."""
    device = service.get_device(current_user, device_id)
    values = service.snapshot(device)
    values["tags"] = ", ".join(values["tags"])
    state = FormState(values={k: ("" if v is None else v) for k, v in values.items()})
    if request.method == "POST":
        saved, state = submit(
            DeviceUpdate, lambda d: service.update_device(ui_actor(), device, d), required=_REQUIRED
        )
        if saved is not None:
            flash(_("Device “%(name)s” saved.", name=saved.name), "success")
            return redirect(url_for(".detail", device_id=device.id))
    return _form(state, device)


@bp.post("/<id:device_id>/delete")
@requires(Perm.DEVICES_WRITE)
def delete(device_id: int):
    """Delete a device."""
    device = service.get_device(current_user, device_id)
    name = device.name
    service.delete_device(ui_actor(), device)
    flash(_("Device “%(name)s” deleted.", name=name), "success")
    return redirect(url_for(".index"))


@bp.post("/commands")
@requires(Perm.COMMANDS_RUN)
def queue_bulk():
    """Send one command to the ticked devices, or to every device matching the filter."""
    form = request.form
    command = {k: v for k in ("kind", "message", "script", "ttl_minutes") if (v := form.get(k))}
    if form.get("everything"):
        target = {k: v for k in ("office_id", "kind") if (v := form.get(f"filter_{k}"))}
        target = target or {"device_ids": []}
    else:
        target = {"device_ids": form.getlist("device_ids")}
    back = redirect(url_for(".index", **{k: v for k in ("office_id", "kind", "state", "tag", "q")
                                         if (v := form.get(f"filter_{k}"))}))  # fmt: skip
    try:
        data = BulkCommand.model_validate({"target": target, "command": command})
        batch = commands.queue_many(ui_actor(), data.target, data.command)
    except ValidationError as exc:
        flash(_("The command was not sent:") + " " + " ".join(field_messages(exc).values()),
              "error")  # fmt: skip
        return back
    except DomainError as exc:
        flash(exc.message, "error")
        return back
    return redirect(url_for("fleet.batch", batch=batch))


@bp.post("/<id:device_id>/approve")
@requires(Perm.DEVICES_WRITE)
def approve(device_id: int):
    """Approve a newly enrolled device of an office that requires approval."""
    device = enrollment.approve(ui_actor(), service.get_device(current_user, device_id))
    flash(_("Device “%(name)s” approved.", name=device.name), "success")
    return redirect(url_for(".detail", device_id=device.id))


@bp.get("/<id:device_id>/screenshot.png")
@requires(Perm.INVENTORY_READ)
def screenshot(device_id: int):
    """The device's last screenshot (404 when there is none)."""
    device = service.get_device(current_user, device_id)
    shot = commands.latest_screenshot(device.id)
    if shot is None:
        abort(404)
    response = make_response(shot.png)
    response.headers["Content-Type"] = "image/png"
    response.headers["Cache-Control"] = "no-store"
    return response
