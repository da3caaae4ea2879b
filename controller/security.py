"""Sign-in sessions, their expiry, permission checks for pages, and response headers."""

import functools
from collections.abc import Callable

from flask import Flask, abort, flash, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from werkzeug.middleware.proxy_fix import ProxyFix

from controller.auth.roles import Perm
from controller.extensions import db, login_manager
from controller.types import utcnow

_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def init_app(app: Flask) -> None:
    """Bind Flask-Login, session expiry, and security headers."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_user)
    app.before_request(_expire_session)
    app.after_request(_headers)
    if hops := int(app.config.get("PROXY_FIX_X_FOR") or 0):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _load_user(session_id: str):
    from controller.auth.models import User

    user_id, _sep, epoch = session_id.partition(".")
    if not (user_id.isascii() and user_id.isdigit() and epoch.isascii() and epoch.isdigit()):
        return None
    user = db.session.get(User, int(user_id)) if int(user_id) <= 2**31 - 1 else None
    if user is None or user.session_epoch != int(epoch):
        return None  # signed out everywhere, password changed, or account changed
    return user


def _expire_session():
    from flask import current_app

    if request.blueprint in ("api", "openapi", "static") or "_user_id" not in session:
        return None
    started = session.get("signed_in_at")
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    if not isinstance(started, int | float) or utcnow().timestamp() - started > lifetime:
        logout_user()
        session.clear()
        flash(_l("Your session has expired. Please sign in again."), "info")
        if request.method == "GET":
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return redirect(url_for("auth.login"))
    return None


def _headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def keep_signed_in(user) -> None:
    """Carry this browser's sign-in over to the account's new session epoch."""
    started = session.get("signed_in_at")
    login_user(user)
    session["signed_in_at"] = started


def requires(perm: Perm | None = None) -> Callable:
    """Page decorator: a signed-in, active user whose role carries perm (403 otherwise)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if perm is not None and not current_user.can(perm):
                abort(403)
            return view(*args, **kwargs)

        wrapper.required_perm = perm  # read by the route matrix test
        return wrapper

    return decorate
