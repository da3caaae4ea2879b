"""The audit log page."""

from flask import Blueprint, render_template, request
from flask_login import current_user
from sqlalchemy import select

from controller.audit.models import AuditLog
from controller.auth.roles import Perm
from controller.auth.scope import scoped
from controller.pagination import paginate
from controller.security import requires

bp = Blueprint("audit", __name__, url_prefix="/audit")
PER_PAGE = 50


@bp.get("/")
@requires(Perm.AUDIT_READ)
def index():
    """Recent changes, newest first; scoped staff see the entries of their offices."""
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 0 < int(page) < 100000 else 1
    action = request.args.get("action", "").strip()[:60]
    stmt = select(AuditLog).order_by(AuditLog.id.desc())
    if current_user.office_scope() is not None:
        stmt = scoped(stmt, current_user, AuditLog.office_id)
    if action:
        stmt = stmt.where(AuditLog.action.startswith(action))
    return render_template("audit/list.html", paged=paginate(stmt, page, PER_PAGE), action=action)
