"""Reading device lists fast: plain rows, one count, one tag query per page."""

from collections import defaultdict
from functools import cache

from sqlalchemy import bindparam, func, select

from controller.auth.scope import in_scope
from controller.devices.models import Device, DeviceTag
from controller.devices.schemas import DeviceQuery
from controller.extensions import db
from controller.offices.models import Office
from controller.pagination import Paged, matches

_COLUMNS = (
    Device.id, Device.office_id, Office.name.label("office_name"), Device.kind, Device.name,
    Device.hostname, Device.mac, Device.ip, Device.serial_number, Device.location,
    Device.management, Device.state, Device.approved, Device.last_seen, Device.created_at,
    Device.updated_at,
)  # fmt: skip
_SEARCHED = (Device.name, Device.hostname, Device.mac, Device.ip, Device.serial_number)


def _conditions(user, query: DeviceQuery) -> list:
    where = [in_scope(user, Device.office_id)]
    if query.office_id is not None:
        where.append(Device.office_id == query.office_id)
    if query.kind is not None:
        where.append(Device.kind == query.kind)
    if query.state is not None:
        where.append(Device.state == query.state)
    if query.tag:
        tagged = select(DeviceTag.device_id).where(DeviceTag.name == query.tag.lower())
        where.append(Device.id.in_(tagged))
    if query.q:
        where.append(matches(query.q, *_SEARCHED))
    return where


@cache
def _page_statement():
    # Built once per process; each request only adds its filters.
    return (
        select(*_COLUMNS)
        .join(Office, Office.id == Device.office_id)
        .order_by(Office.name, Device.name, Device.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


def list_devices(user, query: DeviceQuery) -> Paged:
    """A page of the devices the user may see, as dicts shaped like the API's DeviceOut."""
    where = _conditions(user, query)
    conn = db.session.connection()  # plain Core rows: no ORM bookkeeping on the hot path
    offset = (query.page - 1) * query.per_page
    total = conn.scalar(select(func.count(Device.id)).where(*where)) or 0
    rows = conn.execute(
        _page_statement().where(*where), {"limit": query.per_page, "offset": offset}
    ).all()
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
