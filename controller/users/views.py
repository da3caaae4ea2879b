"""Staff account pages (admins only)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from controller.auth.roles import Perm
from controller.forms import FormState, submit, ui_actor
from controller.offices.service import visible_offices
from controller.security import keep_signed_in, requires
from controller.users import service
from controller.users.schemas import UserCreate, UserQuery, UserUpdate

bp = Blueprint("users", __name__, url_prefix="/users")


@bp.get("/")
@requires(Perm.USERS_MANAGE)
def index():
    """Every staff account."""
    q = request.args.get("q", "")[:100]
    paged = service.list_users(UserQuery(q=q or None, per_page=200))
    return render_template("users/list.html", paged=paged, q=q)


def _form(state: FormState, user=None):
    page = render_template(
        "users/form.html", form=state, user=user, offices=visible_offices(current_user)
    )
    return page, state.status


@bp.route("/new", methods=["GET", "POST"])
@requires(Perm.USERS_MANAGE)
def create():
    """Form for a new staff account."""
    state = FormState(values={"role": "viewer", "locale": "pl", "active": True, "office_ids": []})
    if request.method == "POST":
        user, state = submit(
            UserCreate, lambda d: service.create_user(ui_actor(), d),
            required=("email", "role", "password"), lists=("office_ids",), flags=("active",),
        )  # fmt: skip
        if user is not None:
            flash(_("Account %(email)s created.", email=user.email), "success")
            return redirect(url_for(".index"))
    return _form(state)


@bp.route("/<id:user_id>/edit", methods=["GET", "POST"])
@requires(Perm.USERS_MANAGE)
def edit(user_id: int):
    """Form to change a staff account; an empty password field keeps the password."""
    user = service.get_user(user_id)
    values = service.snapshot(user)
    values["office_ids"] = values.pop("offices")
    state = FormState(values=values)
    if request.method == "POST":
        saved, state = submit(
            UserUpdate, lambda d: service.update_user(ui_actor(), user, d),
            required=("email", "role"), lists=("office_ids",), flags=("active",),
            drop_blank=("password",),
        )  # fmt: skip
        if saved is not None:
            if saved.id == current_user.id:
                keep_signed_in(saved)
            flash(_("Account %(email)s saved.", email=saved.email), "success")
            return redirect(url_for(".index"))
    return _form(state, user)
