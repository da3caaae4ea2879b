"""Portal policies: the county default, offices' overrides, and the effective one."""

import hashlib
import json

from flask_babel import gettext as _
from sqlalchemy import select

from controller.audit.service import Actor, changes, record
from controller.auth.scope import in_scope
from controller.errors import DomainError
from controller.extensions import db
from controller.offices.models import Office
from controller.portal.models import PortalPolicy
from controller.portal.policy import COUNTY_ZONE, MB, Limits
from controller.portal.schemas import PolicyIn, PolicyOut

BUILT_IN = PolicyIn(
    methods=["voucher", "click"], session_minutes=60, daily_minutes=120, idle_timeout_minutes=15,
    rate_down_kbit=10_000, rate_up_kbit=2_000, devices_per_voucher=1,
    walled_garden_hosts=["epuap.gov.pl", "gov.pl"],
    terms_pl="Korzystając z sieci, akceptujesz regulamin punktu publicznego dostępu do "
             "Internetu. Nie naruszaj prawa ani praw innych osób.",
    terms_en="By using this network you accept the rules of the public internet access point. "
             "Do not break the law or the rights of others.",
)  # fmt: skip


def _row(data: PolicyIn, row: PortalPolicy) -> PortalPolicy:
    row.methods = list(data.methods)
    row.session_seconds, row.daily_seconds = data.session_minutes * 60, data.daily_minutes * 60
    row.idle_timeout_seconds = data.idle_timeout_minutes * 60
    row.session_bytes = data.session_megabytes * MB if data.session_megabytes else None
    row.daily_bytes = data.daily_megabytes * MB if data.daily_megabytes else None
    row.rate_down_kbit, row.rate_up_kbit = data.rate_down_kbit, data.rate_up_kbit
    row.devices_per_voucher = data.devices_per_voucher
    hours = data.opening_hours
    row.opening_hours = None if hours is None else [s.model_dump() for s in hours]
    row.walled_garden_hosts, row.walled_garden_cidrs = (
        data.walled_garden_hosts,
        data.walled_garden_cidrs,
    )
    row.terms_pl, row.terms_en = data.terms_pl, data.terms_en
    row.wifi4eu_network_identifier = data.wifi4eu_network_identifier
    row.wifi4eu_snippet_url = data.wifi4eu_snippet_url
    return row


def values(row: PortalPolicy) -> dict:
    """The policy in the shape staff edit it (minutes, megabytes)."""
    mb = lambda v: None if v is None else v // MB  # noqa: E731
    return {
        "methods": list(row.methods), "session_minutes": row.session_seconds // 60,
        "daily_minutes": row.daily_seconds // 60,
        "idle_timeout_minutes": row.idle_timeout_seconds // 60,
        "session_megabytes": mb(row.session_bytes), "daily_megabytes": mb(row.daily_bytes),
        "rate_down_kbit": row.rate_down_kbit, "rate_up_kbit": row.rate_up_kbit,
        "devices_per_voucher": row.devices_per_voucher, "opening_hours": row.opening_hours,
        "walled_garden_hosts": list(row.walled_garden_hosts or []),
        "walled_garden_cidrs": list(row.walled_garden_cidrs or []),
        "terms_pl": row.terms_pl or "", "terms_en": row.terms_en or "",
        "wifi4eu_network_identifier": row.wifi4eu_network_identifier,
        "wifi4eu_snippet_url": row.wifi4eu_snippet_url,
    }  # fmt: skip


def out(row: PortalPolicy) -> PolicyOut:
    """The API shape of a stored (or built-in) policy."""
    return PolicyOut(**values(row), office_id=row.office_id, updated_by=row.updated_by or "",
                     updated_at=row.updated_at)  # fmt: skip


def default() -> PortalPolicy:
    """The county default (the built-in one until somebody saves it; not added to the session)."""
    row = db.session.scalar(select(PortalPolicy).where(PortalPolicy.office_id.is_(None)))
    return row or _row(BUILT_IN, PortalPolicy(office_id=None, updated_by=""))


def override(office_id: int) -> PortalPolicy | None:
    """An office's own policy, if it has one."""
    return db.session.scalar(select(PortalPolicy).where(PortalPolicy.office_id == office_id))


def effective(office_id: int) -> PortalPolicy:
    """The office's policy if it has one, else the county default."""
    return override(office_id) or default()


def overrides(user) -> list[PortalPolicy]:
    """The offices' own policies that the user may see."""
    stmt = select(PortalPolicy).where(PortalPolicy.office_id.is_not(None),
                                      in_scope(user, PortalPolicy.office_id))  # fmt: skip
    return list(db.session.scalars(stmt.order_by(PortalPolicy.office_id)))


def save(actor: Actor, office: Office | None, data: PolicyIn) -> PortalPolicy:
    """Store the county default (office None: county-wide staff only) or an office's policy."""
    if office is None and actor.user is not None and actor.user.office_scope() is not None:
        raise DomainError(_("Only county-wide staff may change the county default."),
                          status=403, code="forbidden")  # fmt: skip
    row = default() if office is None else override(office.id)
    if row is None or row.id is None:
        row = PortalPolicy(office_id=office.id if office else None)
        before = {}
    else:
        before = values(row)
    _row(data, row)
    row.updated_by = actor.label
    db.session.add(row)
    db.session.flush()
    old, new = changes(before, values(row))
    record(actor, "portal_policy.update", row, office_id=row.office_id, before=old, after=new,
           label=office.name if office else _("County default"))  # fmt: skip
    db.session.commit()
    return row


def remove(actor: Actor, office: Office) -> None:
    """Drop an office's own policy: the county default applies again."""
    row = override(office.id)
    if row is not None:
        record(actor, "portal_policy.delete", row, office_id=office.id, before=values(row),
               label=office.name)  # fmt: skip
        db.session.delete(row)
        db.session.commit()


def contract(row: PortalPolicy, zone: str | None) -> dict:
    """The policy as gateways get it (docs/portal-api.md)."""
    wifi4eu = None
    if row.wifi4eu_network_identifier:
        wifi4eu = {"network_identifier": row.wifi4eu_network_identifier,
                   "snippet_url": row.wifi4eu_snippet_url}  # fmt: skip
    return {
        "methods": list(row.methods), "session_seconds": row.session_seconds,
        "daily_seconds": row.daily_seconds, "idle_timeout_seconds": row.idle_timeout_seconds,
        "session_bytes": row.session_bytes, "daily_bytes": row.daily_bytes,
        "rate_down_kbit": row.rate_down_kbit, "rate_up_kbit": row.rate_up_kbit,
        "devices_per_voucher": row.devices_per_voucher, "opening_hours": row.opening_hours,
        "timezone": zone or COUNTY_ZONE,
        "walled_garden": {"hosts": list(row.walled_garden_hosts or []),
                          "cidrs": list(row.walled_garden_cidrs or [])},
        "terms": {"pl": row.terms_pl or "", "en": row.terms_en or ""}, "wifi4eu": wifi4eu,
    }  # fmt: skip


def version(document) -> str:
    """An opaque version of a JSON document: changes whenever the document does."""
    raw = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def limits(row: PortalPolicy, zone: str | None) -> Limits:
    """The numbers of a policy that bound a grant."""
    return Limits(session_seconds=row.session_seconds, daily_seconds=row.daily_seconds,
                  session_bytes=row.session_bytes, daily_bytes=row.daily_bytes,
                  opening_hours=row.opening_hours, timezone=zone or COUNTY_ZONE)  # fmt: skip
