"""Signing in and out, language choice, and the user's own account and API tokens."""

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)  # fmt: skip
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from controller.audit.service import Actor, record
from controller.auth import tokens
from controller.auth.passwords import hash_password, verify_password
from controller.database import outside_transaction
from controller.errors import DomainError
from controller.extensions import db, limiter
from controller.forms import FormState, ui_actor
from controller.security import keep_signed_in, requires
from controller.types import utcnow
from controller.users.service import find_by_email

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_email() -> str:
    return "login:" + request.form.get("email", "").strip().lower()[:254]


def _failed(response) -> bool:
    # Only failed attempts count, so staff signing in from one office address are not limited.
    return response.status_code != 302


def _safe_next(target: str | None) -> str:
    parts = urlsplit(target or "")
    if target and target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
@limiter.limit(_login_limit, methods=["POST"], key_func=_login_email, deduct_when=_failed)
def login():
    """Sign-in form."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    state = FormState()
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        state.values = {"email": email}
        user = find_by_email(email) if email else None
        stored = user.password_hash if user else None
        with outside_transaction():  # argon2 takes ~50 ms: hold no database lock meanwhile
            ok, rehash = verify_password(stored, request.form.get("password", ""))
        if ok and user.active:
            return _sign_in(user, rehash)
        record(Actor.for_request(None, "ui"), "auth.login_failed", user, object_type="user",
               label=email[:200])  # fmt: skip
        db.session.commit()
        state.message = _("Wrong e-mail address or password, or the account is disabled.")
    return render_template("auth/login.html", form=state), state.status


def _sign_in(user, rehash: str | None):
    next_url = _safe_next(request.args.get("next"))
    lang = session.get("lang")
    session.clear()  # a fresh session on sign-in: no fixation
    login_user(user)
    session.permanent = True
    session["signed_in_at"] = utcnow().timestamp()
    if lang:  # a language chosen on the sign-in page becomes the account's
        session["lang"] = user.locale = lang
    user.last_login = utcnow()
    if rehash:
        user.password_hash = rehash
    record(Actor.for_request(user, "ui"), "auth.login", user, label=user.email)
    db.session.commit()
    return redirect(next_url)


@bp.post("/logout")
@requires()
def logout():
    """Sign out: this and every other session of the account end."""
    lang = current_user.locale
    current_user.end_sessions()
    db.session.commit()
    logout_user()
    session.clear()
    session["lang"] = lang
    flash(_("You have been signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language():
    """Switch the interface language (kept on the account when signed in)."""
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            current_user.locale = lang
            db.session.commit()
    return redirect(_safe_next(request.form.get("next")))


@bp.get("/account")
@requires()
def account():
    """The user's own account: language, password and API tokens."""
    return _account_page(FormState(), None)


def _account_page(state: FormState, new_secret: str | None, status: int | None = None):
    page = render_template(
        "auth/account.html", form=state, tokens=tokens.tokens_of(current_user),
        new_secret=new_secret,
    )  # fmt: skip
    return page, status or state.status


@bp.post("/account/tokens")
@requires()
def create_token():
    """Create an API token; its secret is shown on this one page and never again."""
    try:
        _token, secret = tokens.create_token(ui_actor(), current_user, request.form.get("name", ""))
    except DomainError as exc:
        db.session.rollback()
        return _account_page(FormState(request.form.to_dict(), exc.fields, exc.message), None)
    return _account_page(FormState(), secret, 201)


@bp.post("/account/tokens/<id:token_id>/revoke")
@requires()
def revoke_token(token_id: int):
    """Revoke one of the user's own tokens."""
    token = tokens.revoke_token(ui_actor(), token_id)
    flash(_("Token “%(name)s” revoked.", name=token.name), "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/password")
@requires()
def change_password():
    """Change the user's own password (the current one is asked again)."""
    current, new = request.form.get("current_password", ""), request.form.get("new_password", "")
    ok, _rehash = verify_password(current_user.password_hash, current)
    errors = {}
    if not ok:
        errors["current_password"] = _("This is not your current password.")
    if not 10 <= len(new) <= 200:
        errors["new_password"] = _("Choose a password of 10–200 characters.")
    if errors:
        return _account_page(FormState({}, errors, _("The password was not changed.")), None)
    current_user.password_hash = hash_password(new)
    current_user.end_sessions()  # other browsers signed in with the old password are out
    record(ui_actor(), "user.password", current_user, label=current_user.email,
           after={"password": "changed"})  # fmt: skip
    db.session.commit()
    keep_signed_in(current_user._get_current_object())
    flash(_("Your password has been changed."), "success")
    return redirect(url_for("auth.account"))
