"""Hotspot pages: live sessions, history, portal policies, LAN neighbours."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import ValidationError

from controller.auth.roles import Perm
from controller.forms import FormState, submit, ui_actor
from controller.offices import service as offices
from controller.portal import monitor, policies
from controller.portal.schemas import AdoptIn, PolicyIn, SessionQuery
from controller.portal.voucher_views import check_posted_office
from controller.security import requires
from controller.validation import field_messages

bp = Blueprint("portal", __name__, url_prefix="/portal")
_FILTERS = ("office_id", "method", "pseudonym", "since", "until", "page")
_POLICY_REQUIRED = ("session_minutes", "daily_minutes", "idle_timeout_minutes",
                    "devices_per_voucher")  # fmt: skip


def _query(live: bool):
    args = {k: v for k in _FILTERS if (v := request.args.get(k, "").strip()[:100])}
    try:
        return args, SessionQuery.model_validate({**args, "live": live}), {}
    except ValidationError as exc:
        return args, SessionQuery(live=live), field_messages(exc)


@bp.get("/")
@requires(Perm.INVENTORY_READ)
def sessions():
    """Live visitor sessions of the user's offices, with “end session” for IT admins."""
    args, query, errors = _query(True)
    return _sessions_page("portal/sessions.html", args, query, errors)


@bp.get("/history")
@requires(Perm.INVENTORY_READ)
def history():
    """Past sessions, filtered by office, method, visitor pseudonym and days."""
    args, query, errors = _query(False)
    return _sessions_page("portal/history.html", args, query, errors)


def _sessions_page(template, args, query, errors):
    paged = monitor.list_sessions(current_user, query)
    names = {o.id: o.name for o in offices.visible_offices(current_user)}
    page = render_template(template, paged=paged, filters=args, errors=errors, names=names)
    return page, 400 if errors else 200


@bp.post("/sessions/<id:session_id>/end")
@requires(Perm.PORTAL_MANAGE)
def end_session(session_id: int):
    """End a live session by hand: the gateway gets an end_session command."""
    session = monitor.get_session(current_user, session_id)
    if session.ended_at is not None:
        flash(_("The session has ended already."), "error")
    else:
        monitor.end_by_hand(ui_actor(), session)
        flash(_("The gateway has been asked to end the session."), "success")
    return redirect(url_for(".sessions"))


@bp.get("/policies")
@requires(Perm.INVENTORY_READ)
def policy_list():
    """The county default policy and which offices have their own."""
    own = {p.office_id: p for p in policies.overrides(current_user)}
    return render_template("portal/policies.html", default=policies.default(), own=own,
                           offices=offices.visible_offices(current_user))  # fmt: skip


def _form_values(row) -> dict:
    values = policies.values(row)
    for name in ("walled_garden_hosts", "walled_garden_cidrs"):
        values[name] = "\n".join(values[name])
    hours = values["opening_hours"] or []
    values["opening_hours"] = "\n".join(f"{s['weekday']} {s['opens']}-{s['closes']}" for s in hours)
    return {k: ("" if v is None else v) for k, v in values.items()}


def _policy_form(office):
    """Edit the county default (office None) or an office's own policy."""
    row = policies.default() if office is None else policies.effective(office.id)
    state = FormState(values=_form_values(row))
    if request.method == "POST":
        saved, state = submit(PolicyIn, lambda d: policies.save(ui_actor(), office, d),
                              required=_POLICY_REQUIRED, lists=("methods",))  # fmt: skip
        if saved is not None:
            flash(_("The portal policy has been saved."), "success")
            return redirect(url_for(".policy_list"))
    own = office is not None and policies.override(office.id) is not None
    page = render_template("portal/policy_form.html", form=state, office=office, own=own)
    return page, state.status


@bp.route("/policies/default", methods=["GET", "POST"])
@requires(Perm.PORTAL_MANAGE)
def edit_default():
    """Form of the county default policy."""
    return _policy_form(None)


@bp.route("/policies/<id:office_id>", methods=["GET", "POST"])
@requires(Perm.PORTAL_MANAGE)
def edit_office_policy(office_id: int):
    """Form of an office's own policy (starts from the county default)."""
    return _policy_form(offices.get_office(current_user, office_id))


@bp.post("/policies/<id:office_id>/delete")
@requires(Perm.PORTAL_MANAGE)
def delete_office_policy(office_id: int):
    """Drop the office's own policy; the county default applies again."""
    office = offices.get_office(current_user, office_id)
    policies.remove(ui_actor(), office)
    flash(_("“%(name)s” follows the county default again.", name=office.name), "success")
    return redirect(url_for(".policy_list"))


@bp.get("/neighbours")
@requires(Perm.INVENTORY_READ)
def neighbours():
    """MACs the gateways saw on office LANs that are not in the inventory."""
    return _neighbours_page(FormState())


def _neighbours_page(form: FormState):
    names = {o.id: o.name for o in offices.visible_offices(current_user)}
    found = monitor.unknown_neighbours(current_user)
    return render_template("portal/neighbours.html", found=found, names=names, form=form)


@bp.post("/neighbours/adopt")
@requires(Perm.DEVICES_WRITE)
def adopt():
    """Add a discovered MAC to the inventory as a device."""
    check_posted_office()
    device, state = submit(AdoptIn, lambda d: monitor.adopt(ui_actor(), current_user, d),
                           required=("office_id", "mac", "name", "kind"))  # fmt: skip
    if device is None:
        return _neighbours_page(state), state.status
    flash(_("Device “%(name)s” added.", name=device.name), "success")
    return redirect(url_for("devices.detail", device_id=device.id))
