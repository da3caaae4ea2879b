"""The fleet collector's figures against a dataset whose answers are known."""

from datetime import UTC, datetime, timedelta

from controller.devices.models import DeviceKind, DeviceState, Management
from controller.extensions import db
from controller.metrics.collector import collect
from controller.metrics.exposition import render
from controller.portal.models import PortalPolicy, PortalSession
from tests.conftest import make_device, make_office
from tests.metrics.helpers import samples, total, value
from tests.portal.helpers import batch

# A Monday, 10:00 in Warsaw (UTC+1 in November).
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WEEKDAYS_8_TO_16 = [{"weekday": d, "opens": "08:00", "closes": "16:00"} for d in range(5)]
EVENINGS = [{"weekday": 0, "opens": "17:00", "closes": "20:00"}]


def _policy(office_id, hours):
    db.session.add(PortalPolicy(office_id=office_id, methods=["click"], session_seconds=3600,
                                daily_seconds=7200, idle_timeout_seconds=600,
                                opening_hours=hours))  # fmt: skip


def _session(office, n, ended=False):
    db.session.add(PortalSession(session_id=f"{office.id:04d}{n:032d}", office_id=office.id,
                                 pseudonym="0" * 32, method="click", started_at=NOW,
                                 ended_at=NOW if ended else None))  # fmt: skip


def _dataset(app):
    cycow, milejow = make_office(name="Urząd Gminy Cyców"), make_office(name='Gmina "Milejów"')
    disks = [{"mount": "/", "total_bytes": 1000, "used_bytes": 950},
             {"mount": "/home", "total_bytes": 4000, "used_bytes": 1000},
             {"mount": "", "total_bytes": 10, "used_bytes": 1},  # malformed: skipped
             {"mount": "/bad", "total_bytes": "x", "used_bytes": 1},
             {"mount": "/zero", "total_bytes": 0, "used_bytes": 1},
             {"mount": "/text", "total_bytes": 10, "used_bytes": "9"}]  # fmt: skip
    pc = make_device(cycow, name='PC "1" \\ a', state=DeviceState.ONLINE,
                     last_seen=NOW - timedelta(seconds=42), health={"disks": disks})  # fmt: skip
    make_device(cycow, name="PC-2", state=DeviceState.OFFLINE,
                last_seen=NOW - timedelta(minutes=30))  # fmt: skip
    make_device(cycow, name="PC-3", state=DeviceState.RETIRED)
    make_device(cycow, name="PC-4", state=DeviceState.MAINTENANCE)
    make_device(cycow, name="AP-1", kind=DeviceKind.HOTSPOT, management=Management.NONE,
                state=DeviceState.UNKNOWN)  # fmt: skip
    gw = make_device(milejow, name="GW-1", kind=DeviceKind.GATEWAY, management=Management.SSH,
                     state=DeviceState.OFFLINE, last_seen=NOW - timedelta(minutes=10))  # fmt: skip
    for n in range(3):
        _session(cycow, n)
    _session(cycow, 9, ended=True)
    _session(milejow, 1)
    # Vouchers: 3 usable + 1 used in Cyców; a revoked and an expired batch count for nothing.
    live, _codes = batch(app, cycow, count=4)
    revoked, _codes = batch(app, cycow, count=5)
    expired, _codes = batch(app, milejow, count=6)
    live.valid_until = revoked.valid_until = NOW + timedelta(days=30)
    revoked.revoked_at = NOW
    expired.valid_until = NOW - timedelta(seconds=1)
    from controller.portal.models import Voucher

    db.session.query(Voucher).filter_by(batch_id=live.id).first().first_used_at = NOW
    _policy(None, WEEKDAYS_8_TO_16)  # the county default: open now
    _policy(milejow.id, EVENINGS)  # Milejów's own: closed now
    db.session.commit()
    return cycow, milejow, pc, gw


def test_figures_match_the_dataset(app):
    cycow, milejow, pc, gw = _dataset(app)
    found = samples(render(collect(db.session, now=NOW)).decode())
    c, m = str(cycow.id), str(milejow.id)

    assert value(found, "telecentre_devices", office_id=c, kind="pc", state="online") == 1
    assert value(found, "telecentre_devices", office_id=c, kind="pc", state="retired") == 1
    assert value(found, "telecentre_devices", office_id=c, kind="hotspot", state="unknown") == 1
    assert value(found, "telecentre_devices", office_id=m, kind="gateway", state="offline") == 1
    assert total(found, "telecentre_devices") == 6
    assert value(found, "telecentre_devices", office_id=c, kind="pc", state="online",
                 office="Urząd Gminy Cyców") == 1  # fmt: skip

    # Only devices that need attention have series: the offline ones (retired, maintenance and
    # unmanaged devices never do) and file systems at or above the floor (0.8).
    down = {labels["device"]: v for labels, v in found["telecentre_device_down_seconds"]}
    assert down == {"PC-2": 1800, "GW-1": 600}
    assert value(found, "telecentre_device_down_seconds", device_id=str(gw.id), kind="gateway",
                 office='Gmina "Milejów"', office_id=m) == 600  # fmt: skip
    disks = {(labels["device_id"], labels["mount"]): v
             for labels, v in found["telecentre_device_disk_used_ratio"]}  # fmt: skip
    assert disks == {(str(pc.id), "/"): 0.95}
    assert value(found, "telecentre_device_disk_used_ratio", device='PC "1" \\ a', kind="pc",
                 office="Urząd Gminy Cyców") == 0.95  # fmt: skip

    # The oldest heartbeat of online agent devices, per office and kind.
    ages = found["telecentre_device_heartbeat_age_max_seconds"]
    assert ages == [({"office_id": c, "office": "Urząd Gminy Cyców", "kind": "pc"}, 42)]

    assert value(found, "telecentre_portal_sessions_active", office_id=c) == 3
    assert value(found, "telecentre_portal_sessions_active", office_id=m) == 1
    assert value(found, "telecentre_portal_vouchers_unused", office_id=c) == 3
    assert value(found, "telecentre_portal_vouchers_unused", office_id=m) == 0
    assert value(found, "telecentre_portal_office_open", office_id=c) == 1
    assert value(found, "telecentre_portal_office_open", office_id=m) == 0
    assert value(found, "telecentre_metrics_collect_duration_seconds") > 0


def test_the_disk_floor_is_a_parameter(app):
    _cycow, _milejow, pc, _gw = _dataset(app)
    found = samples(render(collect(db.session, now=NOW, disk_floor=0.2)).decode())
    disks = {labels["mount"]: v for labels, v in found["telecentre_device_disk_used_ratio"]}
    assert disks == {"/": 0.95, "/home": 0.25}


def test_opening_hours_follow_the_clock_and_the_default(app):
    office = make_office()
    _policy(None, WEEKDAYS_8_TO_16)
    db.session.commit()
    at = {NOW: 1, NOW + timedelta(hours=7): 0, NOW + timedelta(days=5): 0}  # 17:00, Saturday
    for when, expected in at.items():
        found = samples(render(collect(db.session, now=when)).decode())
        assert value(found, "telecentre_portal_office_open", office_id=str(office.id)) == expected


def test_without_any_policy_an_office_counts_as_open(app):
    office = make_office()
    found = samples(render(collect(db.session, now=NOW)).decode())
    assert value(found, "telecentre_portal_office_open", office_id=str(office.id)) == 1


def test_an_empty_database_still_describes_every_family(app):
    text = render(collect(db.session, now=NOW)).decode()
    for name in ("telecentre_devices", "telecentre_device_down_seconds",
                 "telecentre_portal_office_open", "telecentre_device_disk_used_ratio",
                 "telecentre_device_heartbeat_age_max_seconds"):  # fmt: skip
        assert f"# TYPE {name} gauge\n" in text
    assert "telecentre_devices{" not in text
