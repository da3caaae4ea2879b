"""Managing staff accounts (admins only), with an audit trail."""

from flask_babel import gettext as _
from sqlalchemy import func, select

from controller.audit.service import Actor, changes, record
from controller.auth.models import User
from controller.auth.passwords import hash_password
from controller.errors import Conflict, Invalid, NotFound
from controller.extensions import db
from controller.offices.models import Office
from controller.pagination import Paged, matches, paginate
from controller.users.schemas import UserCreate, UserQuery, UserUpdate


def snapshot(user: User) -> dict:
    """The audited fields of an account (no password material)."""
    return {
        "email": user.email,
        "name": user.name,
        "role": str(user.role),
        "offices": sorted(o.id for o in user.offices),
        "active": user.active,
        "locale": user.locale,
    }


def list_users(query: UserQuery) -> Paged:
    """A page of staff accounts."""
    stmt = select(User).order_by(User.email)
    if query.role is not None:
        stmt = stmt.where(User.role == query.role)
    if query.q:
        stmt = stmt.where(matches(query.q, User.email, User.name))
    return paginate(stmt, query.page, query.per_page)


def get_user(user_id: int) -> User:
    """One account, or NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such user."))
    return user


def find_by_email(email: str) -> User | None:
    """The account with this e-mail address (case-insensitive), if any."""
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def _offices(ids: list[int]) -> list[Office]:
    wanted = set(ids)
    found = list(db.session.scalars(select(Office).where(Office.id.in_(wanted))))
    if len(found) != len(wanted):
        missing = ", ".join(str(i) for i in sorted(wanted - {o.id for o in found}))
        raise Invalid(
            _("The account was not saved."),
            {"office_ids": _("Unknown offices: %(ids)s.", ids=missing)},
        )
    return found


def _apply(user: User, values: dict) -> None:
    for key, value in values.items():
        if key == "office_ids":
            user.offices = _offices(value)
        elif key == "password":
            user.password_hash = hash_password(value)
        else:
            setattr(user, key, value.lower() if key == "email" else value)


def create_user(actor: Actor, data: UserCreate) -> User:
    """Add a staff account and record it."""
    if find_by_email(data.email) is not None:
        raise Conflict(
            _("An account with this e-mail exists already."), {"email": _("Already taken.")}
        )
    user = User(email=data.email.lower(), role=data.role, name="", active=True, locale="pl")
    _apply(user, data.model_dump(exclude_unset=True, exclude={"email", "role"}))
    db.session.add(user)
    db.session.flush()
    record(actor, "user.create", user, after=snapshot(user), label=user.email)
    db.session.commit()
    return user


def update_user(actor: Actor, user: User, data: UserUpdate) -> User:
    """Change an account; an admin cannot lock themselves out."""
    values = data.model_dump(exclude_unset=True)
    if values.get("email") and (other := find_by_email(values["email"])) and other.id != user.id:
        raise Conflict(
            _("An account with this e-mail exists already."), {"email": _("Already taken.")}
        )
    if actor.user is not None and actor.user.id == user.id:
        field = "active" if values.get("active") is False else "role"
        if values.get("active") is False or values.get("role") not in (None, user.role):
            raise Invalid(
                _("You cannot deactivate yourself or change your own role."),
                {field: _("Ask another admin.")},
            )
    before = snapshot(user)
    password_changed = bool(values.get("password"))
    _apply(user, values)
    db.session.flush()
    old, new = changes(before, snapshot(user))
    if password_changed:
        new["password"] = "changed"  # noqa: S105 - audit marker
    if new.keys() & {"password", "role", "offices", "active", "email"}:
        user.end_sessions()  # what the account may do changed: sign in again
    if new:
        record(actor, "user.update", user, before=old, after=new, label=user.email)
    db.session.commit()
    return user
