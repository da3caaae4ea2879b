"""Wiring of blueprints, error pages and template helpers."""

import logging

from flask import Flask, abort, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import IntegerConverter

from controller.api.core import error_response, is_api_request
from controller.errors import Conflict, DomainError
from controller.schemas import MAX_ID

log = logging.getLogger(__name__)


class IdConverter(IntegerConverter):
    """Object ids in URLs: 1 … 2^31-1, so no id reaches the database it cannot hold."""

    def __init__(self, url_map) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def register(app: Flask) -> None:
    """Register every blueprint and the app-wide error handlers."""
    app.url_map.converters["id"] = IdConverter
    from controller import labels
    from controller.api.core import bp as api_bp
    from controller.api.openapi import docs
    from controller.audit.views import bp as audit_bp
    from controller.auth.views import bp as auth_bp
    from controller.dashboard.views import bp as dashboard_bp
    from controller.devices import api as _devices_api  # noqa: F401
    from controller.devices.views import bp as devices_bp
    from controller.fleet import staff_api as _fleet_api  # noqa: F401 - registers endpoints
    from controller.fleet.views import bp as fleet_bp
    from controller.offices import api as _offices_api  # noqa: F401
    from controller.offices.views import bp as offices_bp
    from controller.portal import staff_api as _portal_api  # noqa: F401 - registers endpoints
    from controller.portal.views import bp as portal_bp
    from controller.portal.voucher_views import bp as vouchers_bp
    from controller.reports import api as _reports_api  # noqa: F401 - registers endpoints
    from controller.reports.views import bp as reports_bp
    from controller.scheduler import staff_api as _scheduler_api  # noqa: F401
    from controller.scheduler.views import bp as scheduler_bp
    from controller.ssh import staff_api as _ssh_api  # noqa: F401 - registers endpoints
    from controller.ssh.views import bp as ssh_bp
    from controller.users import api as _users_api  # noqa: F401 - registers endpoints
    from controller.users.views import bp as users_bp

    blueprints = (api_bp, docs, auth_bp, dashboard_bp, offices_bp, devices_bp, users_bp,
                  audit_bp, fleet_bp, portal_bp, vouchers_bp, scheduler_bp,
                  ssh_bp, reports_bp)  # fmt: skip
    for bp in blueprints:
        app.register_blueprint(bp)
    register_error_handling(app)
    labels.init_app(app)

    @app.get("/healthz")
    def healthz():
        """Liveness probe for load balancers."""
        return jsonify(status="ok")


def register_error_handling(app: Flask) -> None:
    """The error pages and envelopes, and the refusal of NUL characters (both apps use it)."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(IntegrityError, _integrity_error)
    app.before_request(_refuse_nul)
    app.register_error_handler(Exception, _unexpected_error)


def _http_error(exc: HTTPException):
    status = exc.code or 500
    if is_api_request():
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(status, code, http_error_message(status, exc))
    message = http_error_message(status, exc)
    return render_template("error.html", status=status, message=message), status


def http_error_message(status: int, exc: HTTPException) -> str:
    """The visitor-facing message of an HTTP error, in the request's language."""
    messages = {
        400: _("The request could not be understood."),
        403: _("Your role does not allow this."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        413: _("The request is too large."),
        409: _("This conflicts with existing data."),
        415: _("Send a JSON body (Content-Type: application/json)."),
        429: _("Too many attempts. Please wait a minute and try again."),
        500: _("Something went wrong on our side. The error has been logged."),
    }
    if getattr(exc, "description", None) and status == 400 and "CSRF" in exc.description:
        return _("The form has expired or was not sent from this site. Please try again.")
    return messages.get(status, exc.name if status < 500 else messages[500])


def _domain_error(exc: DomainError):
    from controller.extensions import db

    db.session.rollback()
    if is_api_request():
        return error_response(exc.status, exc.code, exc.message, exc.fields)
    return render_template("error.html", status=exc.status, message=exc.message), exc.status


def _integrity_error(exc: IntegrityError):
    # The services check for duplicates first; this catches the race between two requests.
    log.info("integrity error on %s %s: %s", request.method, request.path, exc.orig)
    return _domain_error(Conflict(_("This conflicts with existing data.")))


def _refuse_nul():
    """NUL characters are never valid input (PostgreSQL cannot even store them)."""
    environ = request.environ
    # The path arrives decoded; the query string raw, where a NUL can only be written %00.
    query = environ.get("QUERY_STRING", "")
    if "\x00" in environ.get("PATH_INFO", "") or "%00" in query or "\x00" in query:
        abort(400)
    if request.mimetype == "application/x-www-form-urlencoded":
        for key, items in request.form.lists():  # every value of a repeated field
            if "\x00" in key or any("\x00" in v for v in items):
                abort(400)


def _unexpected_error(exc: Exception):
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    from controller.extensions import db

    db.session.rollback()
    return _http_error(InternalServerError())
