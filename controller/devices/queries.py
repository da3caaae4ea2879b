"""Reading device lists fast: plain rows, one count, one tag query per page."""

from collections import defaultdict
from functools import cache

from sqlalchemy import bindparam, func, select

from controller.auth.scope import in_scope
from controller.devices.models import Device, DeviceTag
from controller.devices.schemas import DeviceQuery
from controller.extensions import db
from controller.offices.models import Office
from controller.pagination import Paged, contains_pattern, matching

_COLUMNS = (
    Device.id, Device.office_id, Office.name.label("office_name"), Device.kind, Device.name,
    Device.hostname, Device.mac, Device.ip, Device.serial_number, Device.location,
    Device.management, Device.state, Device.approved, Device.last_seen, Device.created_at,
    Device.updated_at,
)  # fmt: skip
_SEARCHED = (Device.name, Device.hostname, Device.mac, Device.ip, Device.serial_number)


def _filters(user, query: DeviceQuery) -> dict:
    """The list's filters as bind parameters; which are present picks the statements."""
    scope = user.office_scope()
    given = {
        "scope": sorted(scope) if scope is not None else None,
        "office_id": query.office_id,
        "kind": query.kind,
        "state": query.state,
        "tag": query.tag.lower() if query.tag else None,
        "q": contains_pattern(query.q) if query.q else None,
    }
    return {name: value for name, value in given.items() if value is not None}


@cache
def _statements(present: frozenset[str]):
    # Built once per combination of filters, so each request runs the same statement objects:
    # a new statement per request cost SQLAlchemy more to map its result than to run it.
    where = []
    if "scope" in present:
        where.append(Device.office_id.in_(bindparam("scope", expanding=True)))
    if "office_id" in present:
        where.append(Device.office_id == bindparam("office_id"))
    if "kind" in present:
        where.append(Device.kind == bindparam("kind"))
    if "state" in present:
        where.append(Device.state == bindparam("state"))
    if "tag" in present:
        tagged = select(DeviceTag.device_id).where(DeviceTag.name == bindparam("tag"))
        where.append(Device.id.in_(tagged))
    if "q" in present:
        where.append(matching(bindparam("q"), *_SEARCHED))
    count = select(func.count(Device.id)).where(*where)
    page = (
        select(*_COLUMNS)
        .join(Office, Office.id == Device.office_id)
        .where(*where)
        .order_by(Office.name, Device.name, Device.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    return count, page


def list_devices(user, query: DeviceQuery) -> Paged:
    """A page of the devices the user may see, as dicts shaped like the API's DeviceOut."""
    filters = _filters(user, query)
    count, page = _statements(frozenset(filters))
    conn = db.session.connection()  # plain Core rows: no ORM bookkeeping on the hot path
    offset = (query.page - 1) * query.per_page
    total = conn.scalar(count, filters) or 0
    rows = conn.execute(page, {**filters, "limit": query.per_page, "offset": offset}).all()
    tags = _tags(conn, [r.id for r in rows])
    return Paged([_item(r, tags[r.id]) for r in rows], total, query.page, query.per_page)


@cache
def _tags_statement():
    return (
        select(DeviceTag.device_id, DeviceTag.name)
        .where(DeviceTag.device_id.in_(bindparam("ids", expanding=True)))
        .order_by(DeviceTag.name)
    )


def _tags(conn, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    if ids:
        for device_id, name in conn.execute(_tags_statement(), {"ids": ids}):
            found[device_id].append(name)
    return found


_KEYS = tuple(c.key for c in _COLUMNS)


def _item(row, tags: list[str]) -> dict:
    item = dict(zip(_KEYS, row, strict=True))
    item["office"] = {"id": item.pop("office_id"), "name": item.pop("office_name")}
    item["tags"] = tags
    return item


def counts_by_office(user) -> dict[int, dict[str, dict[str, int]]]:
    """Per visible office: device counts by kind and by state."""
    stmt = (
        select(Device.office_id, Device.kind, Device.state, func.count())
        .where(in_scope(user, Device.office_id))
        .group_by(Device.office_id, Device.kind, Device.state)
    )
    out: dict[int, dict[str, dict[str, int]]] = {}
    for office_id, kind, state, n in db.session.execute(stmt):
        entry = out.setdefault(office_id, {"kind": {}, "state": {}, "total": {"all": 0}})
        entry["kind"][kind.value] = entry["kind"].get(kind.value, 0) + n
        entry["state"][state.value] = entry["state"].get(state.value, 0) + n
        entry["total"]["all"] += n
    return out
