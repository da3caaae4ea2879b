"""Demo data: the seven offices of Powiat Łęczyński, each with a telecentre, infomat and gateway."""

from sqlalchemy import select

from controller.audit.service import Actor, record
from controller.devices.models import Device, DeviceKind, DeviceState, Management
from controller.devices.service import snapshot
from controller.extensions import db
from controller.offices.models import Office, OfficeType

# (name, type, TERYT, address, short code used in device names)
OFFICES = [
    ("Starostwo Powiatowe w Łęcznej", OfficeType.STAROSTWO, "0610",
     "al. Jana Pawła II 95A, 21-010 Łęczna", "spl"),
    ("Urząd Miejski w Łęcznej", OfficeType.URZAD_MIEJSKI, "0610033",
     "pl. Kościuszki 31, 21-010 Łęczna", "uml"),
    ("Urząd Gminy Cyców", OfficeType.URZAD_GMINY, "0610012",
     "ul. Chełmska 24, 21-070 Cyców", "cyc"),
    ("Urząd Gminy Milejów", OfficeType.URZAD_GMINY, "0610042",
     "ul. Partyzancka 15, 21-020 Milejów", "mil"),
    ("Urząd Gminy Ludwin", OfficeType.URZAD_GMINY, "0610022",
     "Ludwin 39, 21-075 Ludwin", "lud"),
    ("Urząd Gminy Puchaczów", OfficeType.URZAD_GMINY, "0610052",
     "ul. Szkolna 1, 21-013 Puchaczów", "puc"),
    ("Urząd Gminy Spiczyn", OfficeType.URZAD_GMINY, "0610062",
     "Spiczyn 35, 21-025 Spiczyn", "spi"),
]  # fmt: skip
PCS_PER_OFFICE = 4


def _devices(index: int, code: str) -> list[Device]:
    net = f"10.{61}.{index + 1}"
    mac = lambda n: f"02:61:{index + 1:02x}:00:00:{n:02x}"  # noqa: E731 - locally administered
    out = [
        Device(kind=DeviceKind.GATEWAY, name="GW-01", hostname=f"gw-{code}", mac=mac(1),
               ip=f"{net}.1", location="serwerownia", management=Management.SSH),
        Device(kind=DeviceKind.HOTSPOT, name="AP-01", hostname=f"ap-{code}", mac=mac(2),
               ip=f"{net}.2", location="hol, parter", management=Management.SSH),
        Device(kind=DeviceKind.INFOMAT, name="INFOMAT-01", hostname=f"infomat-{code}", mac=mac(3),
               ip=f"{net}.3", location="hol, parter", management=Management.AGENT),
    ]  # fmt: skip
    for n in range(1, PCS_PER_OFFICE + 1):
        out.append(
            Device(kind=DeviceKind.PC, name=f"PC-{n:02d}", hostname=f"pc{n:02d}-{code}",
                   mac=mac(16 + n), ip=f"{net}.{16 + n}", location="telecentrum",
                   management=Management.AGENT)
        )  # fmt: skip
    for device in out:
        device.state = DeviceState.UNKNOWN
        device.tags = ["demo", "telecentrum" if device.kind is DeviceKind.PC else device.kind.value]
    return out


def load_demo_data(actor: Actor) -> tuple[int, int]:
    """Create the demo offices and devices that are missing; returns (offices, devices) added."""
    added_offices = added_devices = 0
    for index, (name, kind, teryt, address, code) in enumerate(OFFICES):
        office = db.session.scalar(select(Office).where(Office.name == name))
        if office is None:
            office = Office(name=name, type=kind, teryt=teryt, address=address,
                            email=f"sekretariat@{code}.example.pl")  # fmt: skip
            db.session.add(office)
            db.session.flush()
            record(actor, "office.create", office, office_id=office.id, after={"demo": True})
            added_offices += 1
        existing = set(db.session.scalars(select(Device.name).where(Device.office_id == office.id)))
        new = [d for d in _devices(index, code) if d.name not in existing and not _mac_taken(d.mac)]
        for device in new:
            device.office_id = office.id
            db.session.add(device)
        db.session.flush()
        for device in new:
            record(actor, "device.create", device, office_id=office.id, after=snapshot(device))
        added_devices += len(new)
    db.session.commit()
    from controller.portal.demo import load as load_portal

    load_portal(actor)  # the county's hotspot policy and voucher batches
    return added_offices, added_devices


def _mac_taken(mac: str) -> bool:
    return db.session.scalar(select(Device.id).where(Device.mac == mac)) is not None


def fleet_devices(actor: Actor) -> list:
    """Virtual agents for the demo PCs and infomats: one enrolment token per office.

    The agents enrol with the demo devices' MACs, so the existing rows come alive.
    """
    from agents.sim.main import VirtualDevice
    from controller.fleet.enrollment import create_token
    from controller.fleet.schemas import TokenCreate

    out = []
    for office in db.session.scalars(select(Office).order_by(Office.id)):
        agents = db.session.scalars(
            select(Device).where(Device.office_id == office.id,
                                 Device.management == Management.AGENT, Device.mac.is_not(None))
        ).all()  # fmt: skip
        if not agents:
            continue
        _row, token = create_token(actor, office, TokenCreate(ttl_hours=1, uses=len(agents)))
        out += [VirtualDevice(token, d.hostname or d.name.lower(), d.mac, d.kind.value)
                for d in agents]  # fmt: skip
    return out
