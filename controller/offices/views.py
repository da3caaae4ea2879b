"""Office pages: list, detail, create, edit, delete."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from controller.auth.roles import Perm
from controller.devices import queries as devices
from controller.devices.schemas import DeviceQuery
from controller.errors import DomainError
from controller.extensions import db
from controller.fleet import enrollment
from controller.fleet.schemas import TokenCreate
from controller.forms import FormState, submit, ui_actor
from controller.offices import service
from controller.offices.schemas import OfficeCreate, OfficeQuery, OfficeUpdate
from controller.security import requires

bp = Blueprint("offices", __name__, url_prefix="/offices")
_REQUIRED = ("name", "type", "timezone")


@bp.get("/")
@requires(Perm.INVENTORY_READ)
def index():
    """All offices the user may see, with device counts."""
    q = request.args.get("q", "")[:100]
    paged = service.list_offices(current_user, OfficeQuery(q=q or None, per_page=200))
    counts = devices.counts_by_office(current_user)
    return render_template("offices/list.html", paged=paged, counts=counts, q=q)


@bp.get("/<id:office_id>")
@requires(Perm.INVENTORY_READ)
def detail(office_id: int):
    """One office, its devices and (for IT admins) its agent enrolment tokens."""
    return _detail_page(service.get_office(current_user, office_id))


def _detail_page(office, token_form: FormState | None = None, new_token: str | None = None):
    paged = devices.list_devices(current_user, DeviceQuery(office_id=office.id, per_page=200))
    tokens = enrollment.active_tokens(office.id) if current_user.can(Perm.DEVICES_WRITE) else []
    return render_template(
        "offices/detail.html", office=office, devices=paged.items, total=paged.total,
        tokens=tokens, token_form=token_form or FormState(values={"ttl_hours": 24, "uses": 1}),
        new_token=new_token,
    )  # fmt: skip


@bp.post("/<id:office_id>/enrollment-tokens")
@requires(Perm.DEVICES_WRITE)
def create_enrollment_token(office_id: int):
    """Create an agent enrolment token; its secret is shown on this page once."""
    office = service.get_office(current_user, office_id)
    made, state = submit(
        TokenCreate, lambda data: enrollment.create_token(ui_actor(), office, data),
        required=("ttl_hours", "uses"),
    )  # fmt: skip
    if made is None:
        return _detail_page(office, token_form=state), state.status
    return _detail_page(office, new_token=made[1]), 201


@bp.route("/new", methods=["GET", "POST"])
@requires(Perm.OFFICES_WRITE)
def create():
    """Form for a new office."""
    state = FormState(values={"timezone": "Europe/Warsaw"})
    if request.method == "POST":
        office, state = submit(
            OfficeCreate,
            lambda d: service.create_office(ui_actor(), d),
            required=_REQUIRED,
            flags=("require_device_approval",),
        )
        if office is not None:
            flash(_("Office “%(name)s” created.", name=office.name), "success")
            return redirect(url_for(".detail", office_id=office.id))
    return render_template("offices/form.html", form=state, office=None), state.status


@bp.route("/<id:office_id>/edit", methods=["GET", "POST"])
@requires(Perm.OFFICES_WRITE)
def edit(office_id: int):
    """Form to change an office."""
    office = service.get_office(current_user, office_id)
    state = FormState(values=service.snapshot(office))
    if request.method == "POST":
        saved, state = submit(
            OfficeUpdate,
            lambda d: service.update_office(ui_actor(), office, d),
            required=_REQUIRED,
            flags=("require_device_approval",),
        )
        if saved is not None:
            flash(_("Office “%(name)s” saved.", name=saved.name), "success")
            return redirect(url_for(".detail", office_id=office.id))
    return render_template("offices/form.html", form=state, office=office), state.status


@bp.post("/<id:office_id>/delete")
@requires(Perm.OFFICES_WRITE)
def delete(office_id: int):
    """Delete an office without devices."""
    office = service.get_office(current_user, office_id)
    name = office.name
    try:
        service.delete_office(ui_actor(), office)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".detail", office_id=office_id))
    flash(_("Office “%(name)s” deleted.", name=name), "success")
    return redirect(url_for(".index"))
