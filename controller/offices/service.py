"""Reading and changing offices, within the caller's scope, with an audit trail."""

from flask_babel import gettext as _
from sqlalchemy import func, select

from controller.audit.service import Actor, changes, record
from controller.auth.models import User, user_offices
from controller.auth.scope import get_visible, scoped
from controller.devices.models import Device
from controller.errors import Conflict
from controller.extensions import db
from controller.offices.models import Office
from controller.offices.schemas import OfficeCreate, OfficeQuery, OfficeUpdate
from controller.pagination import Paged, matches, paginate

FIELDS = ("name", "type", "teryt", "address", "contact_person", "phone", "email", "timezone",
          "require_device_approval")  # fmt: skip


def snapshot(office: Office) -> dict:
    """The audited fields of an office as plain JSON values."""
    return {f: (v if isinstance(v := getattr(office, f), bool | None) else str(v)) for f in FIELDS}


def visible_offices(user: User) -> list[Office]:
    """Every office the user may see, by name."""
    stmt = scoped(select(Office).order_by(Office.name), user, Office.id)
    return list(db.session.scalars(stmt))


def list_offices(user: User, query: OfficeQuery) -> Paged:
    """A page of the offices the user may see, optionally searched."""
    stmt = scoped(select(Office).order_by(Office.name, Office.id), user, Office.id)
    if query.q:
        stmt = stmt.where(matches(query.q, Office.name, Office.address))
    return paginate(stmt, query.page, query.per_page)


def get_office(user: User, office_id: int) -> Office:
    """One office, or NotFound when it is missing or outside the user's scope."""
    return get_visible(user, Office, office_id, _("No such office."))


def _check_name_free(name: str, office_id: int | None = None) -> None:
    stmt = select(Office.id).where(func.lower(Office.name) == name.lower())
    if office_id is not None:
        stmt = stmt.where(Office.id != office_id)
    if db.session.scalar(stmt) is not None:
        raise Conflict(_("An office with this name exists already."), {"name": _("Already taken.")})


def create_office(actor: Actor, data: OfficeCreate) -> Office:
    """Add an office and record it."""
    _check_name_free(data.name)
    office = Office(**data.model_dump(exclude_none=True))
    db.session.add(office)
    db.session.flush()
    record(actor, "office.create", office, office_id=office.id, after=snapshot(office))
    db.session.commit()
    return office


def update_office(actor: Actor, office: Office, data: OfficeUpdate) -> Office:
    """Change the given fields of an office and record the difference."""
    values = data.model_dump(exclude_unset=True)
    if "name" in values:
        _check_name_free(values["name"], office.id)
    before = snapshot(office)
    for key, value in values.items():
        setattr(office, key, value)
    db.session.flush()
    old, new = changes(before, snapshot(office))
    if new:
        record(actor, "office.update", office, office_id=office.id, before=old, after=new)
    db.session.commit()
    return office


def delete_office(actor: Actor, office: Office) -> None:
    """Remove an office that no longer has devices or staff assigned to it."""
    count = db.session.scalar(select(func.count()).where(Device.office_id == office.id))
    if count:
        raise Conflict(
            _("The office still has devices (%(n)d); move or delete them first.", n=count)
        )
    # An account limited to this office alone would otherwise silently gain the whole county.
    staff = db.session.scalar(select(func.count()).where(user_offices.c.office_id == office.id))
    if staff:
        raise Conflict(
            _("Staff accounts (%(n)d) are assigned to the office; change them first.", n=staff)
        )
    record(actor, "office.delete", office, office_id=office.id, before=snapshot(office))
    db.session.delete(office)
    db.session.commit()
