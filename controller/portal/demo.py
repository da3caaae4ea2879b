"""Demo data of the hotspots: the county default policy and a few voucher batches."""

from sqlalchemy import func, select

from controller.audit.service import Actor
from controller.extensions import db
from controller.offices.models import Office
from controller.portal import policies, vouchers
from controller.portal.models import PortalPolicy, VoucherBatch
from controller.portal.schemas import BatchCreate, PolicyIn

DEFAULT = {
    **policies.BUILT_IN.model_dump(),
    "opening_hours": [{"weekday": d, "opens": "07:30", "closes": "17:00"} for d in range(5)],
    "walled_garden_hosts": ["epuap.gov.pl", "gov.pl", "powiatleczynski.pl"],
    "daily_megabytes": 2000,
    "wifi4eu_network_identifier": "demo-wifi4eu",
    "wifi4eu_snippet_url": "https://collection.wifi4eu.ec.europa.eu/wifi4eu.min.js",
}
BATCHES = [  # (office index, what)
    (0, {"count": 20, "minutes": 120, "valid_days": 30, "note": "Czytelnia"}),
    (2, {"count": 10, "minutes": 60, "megabytes": 500, "valid_days": 7, "multi_use": True,
         "note": "Dzień otwarty"}),
]  # fmt: skip


def load(actor: Actor) -> int:
    """Save the demo county default and voucher batches once; returns batches added."""
    has_default = select(PortalPolicy.id).where(PortalPolicy.office_id.is_(None))
    if db.session.scalar(has_default) is None:
        policies.save(actor, None, PolicyIn(**DEFAULT))
    if db.session.scalar(select(func.count()).select_from(VoucherBatch)):
        return 0
    offices = list(db.session.scalars(select(Office).order_by(Office.id)))
    key = vouchers.current_key()
    added = 0
    for index, what in BATCHES:
        if index < len(offices):
            office = offices[index]
            vouchers.create_batch(actor, office, BatchCreate(office_id=office.id, **what), key)
            added += 1
    return added
