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
    """Recent changes, newest first; non-admins see only the entries of their offices."""
    page = min(max(request.args.get("page", 1, type=int), 1), 1_000_000)
    action = request.args.get("action", "").strip()[:60]
    stmt = select(AuditLog).order_by(AuditLog.id.desc())
    if not current_user.can(Perm.USERS_MANAGE):
        # Entries about accounts, tokens and sign-ins belong to no office: admins only.
        stmt = scoped(stmt.where(AuditLog.office_id.is_not(None)), current_user, AuditLog.office_id)
    if action:
        stmt = stmt.where(AuditLog.action.startswith(action))
    return render_template("audit/list.html", paged=paginate(stmt, page, PER_PAGE), action=action)
