"""The start page: every office with its devices counted by kind and state."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from controller.auth.roles import Perm
from controller.devices import queries as devices
from controller.devices.models import DeviceKind, DeviceState
from controller.offices.service import visible_offices
from controller.security import requires

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def root():
    """Send visitors of the bare address to the dashboard (or the sign-in page)."""
    return redirect(url_for("dashboard.index"))


@bp.get("/dashboard")
@requires(Perm.INVENTORY_READ)
def index():
    """Offices with device counts by kind and state."""
    counts = devices.counts_by_office(current_user)
    offices = visible_offices(current_user)
    totals = {"kind": {}, "state": {}, "all": 0}
    for entry in counts.values():
        for group in ("kind", "state"):
            for key, n in entry[group].items():
                totals[group][key] = totals[group].get(key, 0) + n
        totals["all"] += entry["total"]["all"]
    return render_template(
        "dashboard/index.html", offices=offices, counts=counts, totals=totals,
        kinds=list(DeviceKind), states=list(DeviceState),
    )  # fmt: skip
