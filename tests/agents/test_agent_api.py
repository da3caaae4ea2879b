"""The agent API: enrolment, the signature guard, ordered exactly-once records."""

import json
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from agents.common import signing
from controller.audit.models import AuditLog
from controller.devices.models import Device
from controller.extensions import db
from controller.fleet.models import AgentNonce, Command, CommandKind, EnrollmentToken
from controller.fleet.schemas import SyncAnswer
from controller.types import utcnow
from tests.agents.helpers import (
    HEARTBEAT,
    enroll_agent,
    heartbeat_record,
    office_token,
    signed_post,
)
from tests.conftest import make_device, make_office


def test_enrolment_matches_an_existing_device_by_mac(client):
    office = make_office()
    existing = make_device(office, name="PC-01", mac="02:00:00:00:00:77", management="none")
    answer = enroll_agent(client, office_token(office, uses=2), mac="02-00-00-00-00-77")
    assert answer.json["device_id"] == existing.id
    db.session.rollback()  # ends the read snapshot; the agent app wrote on its own connection
    assert existing.management == "agent" and existing.agent_salt
    fresh = enroll_agent(client, office_token(office), mac="02:00:00:00:00:78", hostname="pc02")
    assert fresh.json["device_id"] != existing.id
    assert db.session.get(Device, fresh.json["device_id"]).name == "PC02"
    assert db.session.scalar(select(func.count()).where(AuditLog.action == "device.enroll")) == 2


@pytest.mark.parametrize("case", ["unknown", "expired", "used_up"])
def test_bad_enrolment_tokens_are_refused_and_write_nothing(client, case):
    office = make_office()
    token = office_token(office)
    row = db.session.scalars(select(EnrollmentToken)).one()
    if case == "unknown":
        token = "tce_" + "x" * 32
    elif case == "expired":
        row.expires_at = row.created_at.replace(year=2000)
    else:
        row.uses_left = 0
    db.session.commit()
    answer = enroll_agent(client, token, mac="02:00:00:00:02:02")
    assert answer.status_code == 403 and answer.json["error"]["code"] == "enrollment_refused"
    assert db.session.scalar(select(func.count()).select_from(Device)) == 0


def test_a_token_is_used_up(client):
    office = make_office()
    token = office_token(office, uses=1)
    assert enroll_agent(client, token, mac="02:00:00:00:03:01").status_code == 200
    assert enroll_agent(client, token, mac="02:00:00:00:03:02").status_code == 403


def test_heartbeat_marks_the_device_online_and_signs_the_answer(client, enrolled):
    device_id, secret = enrolled
    body = json.dumps(
        {"records": [heartbeat_record(1, uptime_s=12.5, inventory_hash="abc")]}
    ).encode()
    headers = signing.sign_request(secret, device_id, "POST", HEARTBEAT, body)
    answer = client.post(
        HEARTBEAT, data=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert answer.status_code == 200 and answer.json["ack"] == 1
    assert answer.json["inventory_wanted"] is True
    # Written by hand for speed, the answer is still the documented SyncAnswer, to the field.
    assert (
        SyncAnswer.model_validate(answer.json).model_dump(mode="json").keys() == answer.json.keys()
    )
    expected = signing.answer_signature(secret, headers[signing.NONCE], 200, answer.data)
    assert signing.same(expected, answer.headers[signing.SIGNATURE])
    device = db.session.get(Device, device_id)
    assert device.state == "online" and device.health["uptime_s"] == 12.5
    with_inventory = signed_post(
        client,
        device_id,
        secret,
        {"records": [heartbeat_record(2, inventory_hash="abc", inventory={"cpu_count": 2})]},
    )
    assert with_inventory.json["inventory_wanted"] is False
    db.session.rollback()  # ends the read snapshot; the agent app wrote on its own connection
    assert device.inventory == {"cpu_count": 2} and "inventory" not in device.health


def test_records_are_applied_once_in_order(client, enrolled):
    device_id, secret = enrolled
    first = signed_post(
        client,
        device_id,
        secret,
        {"records": [heartbeat_record(1, uptime_s=1), heartbeat_record(2, uptime_s=2)]},
    )
    assert first.json["ack"] == 2
    # the answer was lost: the agent sends 1–3 again; 1 and 2 are not applied twice
    again = signed_post(
        client, device_id, secret, {"records": [heartbeat_record(n, uptime_s=n) for n in (1, 2, 3)]}
    )
    assert again.json["ack"] == 3
    old = signed_post(client, device_id, secret, {"records": [heartbeat_record(2, uptime_s=99)]})
    assert old.json["ack"] == 3
    db.session.rollback()  # ends the read snapshot; the agent app wrote on its own connection
    assert db.session.get(Device, device_id).health["uptime_s"] == 3


@pytest.mark.parametrize(
    "attack",
    [
        "no_signature",
        "bad_signature",
        "stale",
        "future",
        "unknown_device",
        "wrong_secret",
        "tampered_body",
        "huge_timestamp",
        "huge_device_id",
    ],
)
def test_unauthenticated_agent_requests_are_refused_and_change_nothing(client, enrolled, attack):
    device_id, secret = enrolled
    payload = {"records": [heartbeat_record(1, uptime_s=5)]}
    if attack == "no_signature":
        answer = client.post(HEARTBEAT, json=payload)
    elif attack == "bad_signature":
        answer = signed_post(
            client, device_id, secret, payload, headers={signing.SIGNATURE: "0" * 64}
        )
    elif attack == "stale":
        answer = signed_post(client, device_id, secret, payload, now=time.time() - 301)
    elif attack == "future":
        answer = signed_post(client, device_id, secret, payload, now=time.time() + 301)
    elif attack == "unknown_device":
        answer = signed_post(client, 424242, secret, payload)
    elif attack == "wrong_secret":
        answer = signed_post(client, device_id, "0" * 64, payload)
    elif attack in ("huge_timestamp", "huge_device_id"):  # int() of 5,000 digits raises
        name = signing.TIMESTAMP if attack == "huge_timestamp" else signing.DEVICE
        answer = signed_post(client, device_id, secret, payload, headers={name: "9" * 5000})
    else:
        body = json.dumps(payload).encode()
        headers = signing.sign_request(secret, device_id, "POST", HEARTBEAT, body)
        answer = client.post(
            HEARTBEAT,
            data=body.replace(b"5", b"6"),
            headers={**headers, "Content-Type": "application/json"},
        )
    assert answer.status_code == 401 and answer.json["error"]["code"] == "unauthenticated_agent"
    assert answer.headers[signing.CONTROLLER]
    db.session.rollback()  # ends the read snapshot; the agent app wrote on its own connection
    device = db.session.get(Device, device_id)
    assert device.agent_seq == 0 and device.health is None


def test_a_re_enrolled_devices_old_secret_fails_though_it_was_just_used(client):
    """The controller remembers secrets it checked; the device row still decides."""
    office = make_office()
    first = enroll_agent(client, office_token(office, uses=2), mac="02:00:00:00:02:02").json
    device_id, old = first["device_id"], first["secret"]
    for seq in (1, 2):  # the second one takes the quick way: online, remembered secret
        assert (
            signed_post(client, device_id, old, {"records": [heartbeat_record(seq)]}).json["ack"]
            == seq
        )
    again = enroll_agent(client, office_token(office), mac="02:00:00:00:02:02").json
    assert again["device_id"] == device_id and again["secret"] != old
    db.session.rollback()
    db.session.get(Device, device_id).state = "online"  # as if its new agent had called
    db.session.commit()
    refused = signed_post(client, device_id, old, {"records": [heartbeat_record(3)]})
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthenticated_agent"
    accepted = signed_post(client, device_id, again["secret"], {"records": [heartbeat_record(1)]})
    assert accepted.status_code == 200 and accepted.json["ack"] == 1
    db.session.rollback()  # ends the read snapshot; the agent app wrote on its own connection
    assert db.session.get(Device, device_id).agent_seq == 1
    db.session.delete(db.session.get(Device, device_id))
    db.session.commit()
    gone = signed_post(client, device_id, again["secret"], {"records": [heartbeat_record(2)]})
    assert gone.status_code == 401 and "enrol" in gone.json["error"]["message"]


def test_a_replayed_request_is_refused(client, enrolled):
    device_id, secret = enrolled
    body = json.dumps({"records": [heartbeat_record(1)]}).encode()
    headers = {
        **signing.sign_request(secret, device_id, "POST", HEARTBEAT, body),
        "Content-Type": "application/json",
        "Accept-Language": "en",
    }
    assert client.post(HEARTBEAT, data=body, headers=headers).status_code == 200
    replay = client.post(HEARTBEAT, data=body, headers=headers)
    assert replay.status_code == 401 and "replay" in replay.json["error"]["message"].lower()
    assert db.session.scalar(select(func.count()).select_from(AgentNonce)) == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"records": []},
        {"records": [{"seq": 0, "kind": "heartbeat", "body": {}}]},
        {"records": [{"seq": 1, "kind": "reboot", "body": {}}]},
        {"records": "x"},
        {"records": [{"seq": 1, "kind": "heartbeat", "body": {"sent_at": "soon"}}]},
        [],
    ],
)
def test_malformed_records_are_refused(client, enrolled, payload):
    device_id, secret = enrolled
    answer = signed_post(client, device_id, secret, payload)
    assert answer.status_code == 422, answer.json
    db.session.rollback()  # ends the read snapshot; the agent app wrote on its own connection
    assert db.session.get(Device, device_id).agent_seq == 0


def test_it_admin_creates_tokens_in_the_ui_api_and_cli(client, runner):
    from tests.conftest import bearer, login, make_token, make_user, post_form

    office = make_office(name="Urząd Gminy Ludwin")
    it_admin = make_user("it_admin", offices=[office])
    login(client, it_admin)
    page = post_form(
        client, f"/offices/{office.id}/enrollment-tokens", {"ttl_hours": "48", "uses": "3"}
    )
    assert page.status_code == 201
    html = page.get_data(as_text=True)
    shown = html.split('id="new-enrollment-token">')[1].split("<")[0]
    assert shown.startswith("tce_")
    assert shown not in client.get(f"/offices/{office.id}").get_data(as_text=True)
    bad = post_form(
        client, f"/offices/{office.id}/enrollment-tokens", {"ttl_hours": "0", "uses": ""}
    )
    assert bad.status_code == 422

    api = client.post(
        f"/api/v1/offices/{office.id}/enrollment-tokens",
        json={"uses": 2},
        headers=bearer(make_token(it_admin)),
    )
    assert api.status_code == 201 and api.json["uses_left"] == 2

    cli = runner.invoke(
        args=[
            "enrollment-token",
            "create",
            "--office",
            "urząd gminy ludwin",
            "--ttl",
            "7d",
            "--uses",
            "5",
        ]
    )
    assert cli.exit_code == 0, cli.output
    rows = db.session.scalars(select(EnrollmentToken).order_by(EnrollmentToken.id)).all()
    assert [r.uses_left for r in rows] == [3, 2, 5]
    assert all(r.token_hash not in (shown, api.json["token"]) for r in rows)
    for token in (shown, api.json["token"], cli.output.strip()):
        assert enroll_agent(client, token, mac=None, hostname="pc-x").status_code == 200
    for bad_args in (["--ttl", "soon"], ["--uses", "0"], ["--office", "Nowhere"]):
        out = runner.invoke(args=["enrollment-token", "create", "--office", office.name, *bad_args])
        assert out.exit_code == 2, out.output


def test_device_page_shows_health_and_inventory(client, enrolled):
    from tests.conftest import login, make_user

    device_id, secret = enrolled
    beat = heartbeat_record(
        1,
        uptime_s=90061,
        memory={"total_bytes": 8 << 30, "available_bytes": 3 << 30},
        disks=[{"mount": "/", "total_bytes": 100 << 30, "used_bytes": 40 << 30}],
        inventory_hash="h",
        inventory={"cpu_model": "Test CPU", "cpu_count": 4},
    )
    assert signed_post(client, device_id, secret, {"records": [beat]}).status_code == 200
    login(client, make_user("viewer"))
    html = client.get(f"/devices/{device_id}").get_data(as_text=True)
    assert "Test CPU" in html and "1 d 1 h 1 min" in html and "40 %" in html


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "message"}, "message"),
        ({"kind": "run_script", "script": "../../bin/sh"}, "script"),
        ({"kind": "lock", "message": "hi"}, "message"),
        ({"kind": "format_disk"}, "kind"),
        ({"kind": "lock", "ttl_minutes": 0}, "ttl_minutes"),
    ],
)
def test_bad_commands_are_refused(client, enrolled, body, field):
    from controller.fleet.models import Command
    from tests.conftest import bearer, make_token, make_user

    device_id, _secret = enrolled
    headers = {**bearer(make_token(make_user("admin"))), "Accept-Language": "en"}
    answer = client.post(f"/api/v1/devices/{device_id}/commands", json=body, headers=headers)
    assert answer.status_code == 422 and field in answer.json["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(Command)) == 0


def test_commands_need_an_enrolled_agent_and_expire(client, enrolled):
    from controller.fleet.models import Command
    from tests.conftest import bearer, make_token, make_user

    device_id, secret = enrolled
    headers = bearer(make_token(make_user("admin")))
    plain = make_device(make_office())
    refused = client.post(
        f"/api/v1/devices/{plain.id}/commands", json={"kind": "lock"}, headers=headers
    )
    assert refused.status_code == 422
    queued = client.post(
        f"/api/v1/devices/{device_id}/commands", json={"kind": "reboot"}, headers=headers
    )
    assert queued.status_code == 201 and queued.json["state"] == "queued"
    command = db.session.get(Command, queued.json["id"])
    command.expires_at = command.created_at.replace(year=2000)
    db.session.commit()
    answer = signed_post(client, device_id, secret, {"records": [heartbeat_record(1)]})
    assert answer.json["commands"] == []
    db.session.rollback()  # ends the read snapshot; the agent app wrote on its own connection
    assert db.session.get(Command, queued.json["id"]).state == "expired"


def test_a_command_queued_while_online_comes_with_the_next_heartbeat(client, enrolled):
    from tests.conftest import bearer, make_token, make_user

    device_id, secret = enrolled
    headers = bearer(make_token(make_user("admin")))
    assert (
        signed_post(client, device_id, secret, {"records": [heartbeat_record(1)]}).json["commands"]
        == []
    )
    office = make_office()
    others = [make_device(office, name=f"PC-{i}") for i in range(device_id + 3)]
    for _ in range(2):  # no command's id is the id of its device
        later = utcnow() + timedelta(hours=1)
        db.session.add(Command(device_id=others[-1].id, kind=CommandKind.LOCK, created_by="test",
                               uid=uuid.uuid4().hex, expires_at=later))  # fmt: skip
    db.session.commit()
    uid = client.post(
        f"/api/v1/devices/{device_id}/commands", json={"kind": "lock"}, headers=headers
    ).json["uid"]
    answer = signed_post(client, device_id, secret, {"records": [heartbeat_record(2)]})
    assert answer.json["ack"] == 2
    assert [c["uid"] for c in answer.json["commands"]] == [uid]


def test_a_lost_answer_hands_the_command_again_and_a_result_counts_once(client, enrolled):
    from tests.conftest import bearer, make_token, make_user

    device_id, secret = enrolled
    headers = bearer(make_token(make_user("admin")))
    uid = client.post(
        f"/api/v1/devices/{device_id}/commands", json={"kind": "lock"}, headers=headers
    ).json["uid"]
    first = signed_post(client, device_id, secret, {"records": [heartbeat_record(1)]})
    again = signed_post(client, device_id, secret, {"records": [heartbeat_record(2)]})
    assert (
        [c["uid"] for c in first.json["commands"]]
        == [uid]
        == [c["uid"] for c in again.json["commands"]]
    )
    result = {"seq": 3, "kind": "result", "body": {"uid": uid, "exit_code": 0, "output": "ok"}}
    late = {"seq": 4, "kind": "result", "body": {"uid": uid, "exit_code": 1, "output": "again"}}
    done = signed_post(client, device_id, secret, {"records": [result, late]})
    assert done.json["ack"] == 4 and done.json["commands"] == []
    listed = client.get(f"/api/v1/devices/{device_id}/commands", headers=headers).json["items"]
    assert (listed[0]["state"], listed[0]["output"]) == ("done", "ok")


def test_the_agent_ledger_refuses_a_second_run(tmp_path):
    from agents.endpoint.commands import Ledger

    ledger = Ledger(tmp_path / "ledger.json")
    assert ledger.claim("a" * 32) is True
    assert Ledger(tmp_path / "ledger.json").claim("a" * 32) is False


def test_devices_go_offline_after_three_missed_heartbeats(client, runner, enrolled):
    from datetime import timedelta

    from controller.fleet.models import DeviceEvent
    from controller.fleet.states import sweep
    from controller.types import utcnow
    from tests.conftest import login, make_user

    device_id, secret = enrolled
    signed_post(client, device_id, secret, {"records": [heartbeat_record(1)]})
    device = db.session.get(Device, device_id)
    interval = client.application.config["AGENT_INTERVAL"]
    assert sweep(interval, now=utcnow() + timedelta(seconds=2 * interval)) == 0
    assert sweep(interval, now=utcnow() + timedelta(seconds=3 * interval + 1)) == 1
    db.session.rollback()  # ends the read snapshot; the agent app wrote on its own connection
    assert device.state == "offline"

    login(client, make_user("viewer"))
    page = client.get("/alerts").get_data(as_text=True)
    assert device.name in page.split('id="offline-caption"')[1].split("</table>")[0]

    signed_post(client, device_id, secret, {"records": [heartbeat_record(2)]})  # it comes back
    assert runner.invoke(args=["fleet", "sweep"]).output.startswith("0 devices")
    changes = db.session.scalars(select(DeviceEvent).order_by(DeviceEvent.id)).all()
    assert [(e.from_state, e.to_state) for e in changes] == [
        ("unknown", "online"),
        ("online", "offline"),
        ("offline", "online"),
    ]
    assert all(e.office_id == device.office_id for e in changes)


def test_alerts_are_scoped_to_the_users_offices(client):
    from controller.fleet.models import DeviceEvent
    from tests.conftest import login, make_user

    own, other = make_office(), make_office()
    hidden = make_device(other, name="HIDDEN-PC", state="offline")
    db.session.add(
        DeviceEvent(
            device_id=hidden.id,
            office_id=other.id,
            from_state="online",
            to_state="offline",
            reason="test",
        )
    )
    hidden.last_seen = hidden.created_at
    db.session.commit()
    login(client, make_user("viewer", offices=[own]))
    assert "HIDDEN-PC" not in client.get("/alerts").get_data(as_text=True)


def test_bulk_commands_reach_every_agent_device_of_the_target_in_scope(client):
    from tests.conftest import bearer, login, make_token, make_user, post_form

    own, other = make_office(), make_office()
    pcs = [make_device(own, kind="pc", agent_salt="0" * 32) for _ in range(3)]
    kiosk = make_device(own, kind="infomat", agent_salt="0" * 32)
    make_device(own, kind="pc")  # no agent: not a target
    foreign = make_device(other, kind="pc", agent_salt="0" * 32)
    it_admin = make_user("it_admin", offices=[own])
    headers = bearer(make_token(it_admin))

    by_kind = client.post(
        "/api/v1/commands",
        headers=headers,
        json={"target": {"kind": "pc"}, "command": {"kind": "message", "message": "Zamykamy o 16"}},
    )
    assert by_kind.status_code == 201
    assert {c["device_id"] for c in by_kind.json["items"]} == {p.id for p in pcs}
    assert by_kind.json["counts"] == {"queued": 3}
    listed = client.post(
        "/api/v1/commands",
        headers=headers,
        json={"target": {"device_ids": [kiosk.id, foreign.id]}, "command": {"kind": "lock"}},
    )
    assert [c["device_id"] for c in listed.json["items"]] == [kiosk.id]
    nothing = client.post(
        "/api/v1/commands",
        headers=headers,
        json={"target": {"device_ids": [foreign.id]}, "command": {"kind": "lock"}},
    )
    assert nothing.status_code == 422
    empty = client.post(
        "/api/v1/commands", headers=headers, json={"target": {}, "command": {"kind": "lock"}}
    )
    assert empty.status_code == 422
    batch = by_kind.json["batch"]
    assert client.get(f"/api/v1/command-batches/{batch}", headers=headers).json["counts"] == {
        "queued": 3
    }
    outsider = bearer(make_token(make_user("viewer", offices=[other])))
    assert client.get(f"/api/v1/command-batches/{batch}", headers=outsider).status_code == 404

    login(client, it_admin)
    sent = post_form(
        client,
        "/devices/commands",
        {"device_ids": [str(pcs[0].id), str(pcs[1].id)], "kind": "reboot", "ttl_minutes": "30"},
        page="/devices/",
    )
    assert sent.status_code == 302 and "/commands/" in sent.headers["Location"]
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert pcs[0].name in page and pcs[2].name not in page
    everything = post_form(
        client,
        "/devices/commands",
        {"everything": "1", "filter_kind": "infomat", "kind": "lock", "ttl_minutes": "30"},
        page="/devices/",
    )
    batch_page = client.get(everything.headers["Location"]).get_data(as_text=True)
    assert kiosk.name in batch_page and pcs[0].name not in batch_page
    refused = post_form(
        client, "/devices/commands", {"kind": "lock", "ttl_minutes": "30"}, page="/devices/"
    )
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/devices/")


def test_offices_may_require_approval_of_new_devices(client):
    from tests.conftest import bearer, login, make_token, make_user, post_form

    office = make_office(require_device_approval=True)
    known = make_device(office, mac="02:00:00:00:09:01")
    token = office_token(office, uses=2)
    matched = enroll_agent(client, token, mac="02:00:00:00:09:01").json
    new = enroll_agent(client, token, mac="02:00:00:00:09:02", hostname="pc-new").json
    assert db.session.get(Device, matched["device_id"]).approved  # an existing device is known
    waiting = db.session.get(Device, new["device_id"])
    assert waiting.approved is False and known.id == matched["device_id"]

    refused = signed_post(
        client, new["device_id"], new["secret"], {"records": [heartbeat_record(1)]}
    )
    assert refused.status_code == 403 and refused.json["error"]["code"] == "awaiting_approval"
    db.session.rollback()  # ends the read snapshot; the agent app wrote on its own connection
    assert waiting.agent_seq == 0 and waiting.state == "unknown"

    it_admin = make_user("it_admin", offices=[office])
    login(client, it_admin)
    assert "pc-new".upper() in client.get("/alerts").get_data(as_text=True)
    assert post_form(client, f"/devices/{waiting.id}/approve").status_code == 302
    later = signed_post(client, new["device_id"], new["secret"], {"records": [heartbeat_record(1)]})
    assert later.status_code == 200 and later.json["ack"] == 1
    db.session.rollback()  # a snapshot older than the agent app's write cannot write itself
    again = client.post(
        f"/api/v1/devices/{waiting.id}/approve", headers=bearer(make_token(it_admin))
    )
    assert again.status_code == 200 and again.json["approved"] is True
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.action == "device.approve"))
    assert len(actions.all()) == 1


def test_usage_records_add_up_per_local_day_once(client, enrolled):
    from datetime import date

    from controller.fleet.models import UsageCounter

    device_id, secret = enrolled
    evening = 1_767_223_800  # 2025-12-31 23:30 UTC: already 00:30 on 1 January in Warsaw
    usage = [
        {"seq": 1, "kind": "usage", "body": {"at": evening, "interaction_sessions": 3}},
        {"seq": 2, "kind": "usage", "body": {"at": evening + 60, "interaction_sessions": 2}},
    ]
    assert signed_post(client, device_id, secret, {"records": usage}).json["ack"] == 2
    assert signed_post(client, device_id, secret, {"records": usage}).json["ack"] == 2  # resent
    rows = db.session.scalars(select(UsageCounter)).all()
    assert [(r.day, r.metric, r.value) for r in rows] == [
        (date(2026, 1, 1), "interaction_sessions", 5)
    ]
    bad = {"seq": 3, "kind": "usage", "body": {"at": -1}}
    assert signed_post(client, device_id, secret, {"records": [bad]}).status_code == 422


def test_screenshot_uploads_are_checked(client, enrolled):
    from tests.conftest import bearer, make_token, make_user

    device_id, secret = enrolled
    uid = client.post(
        f"/api/v1/devices/{device_id}/commands",
        json={"kind": "screenshot"},
        headers=bearer(make_token(make_user("admin"))),
    ).json["uid"]
    lock = client.post(
        f"/api/v1/devices/{device_id}/commands",
        json={"kind": "lock"},
        headers=bearer(make_token(make_user("admin"))),
    ).json["uid"]
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100

    def upload(body, command=uid, content_type="image/png"):
        path = f"/api/agent/v1/screenshots/{command}"
        headers = signing.sign_request(secret, device_id, "POST", path, body)
        headers.update({"Content-Type": content_type, "Accept-Language": "en"})
        return client.post(path, data=body, headers=headers)

    assert upload(b"GIF89a").status_code == 422
    assert upload(png, content_type="application/json").status_code == 415
    assert upload(png, command=lock).status_code == 404
    assert upload(png, command="f" * 32).status_code == 404
    assert upload(b"\x89PNG\r\n\x1a\n" + b"\0" * (7 << 20)).status_code == 413
    assert (
        client.post(
            f"/api/agent/v1/screenshots/{uid}", data=png, headers={"Content-Type": "image/png"}
        ).status_code
        == 401
    )
    stored = upload(png)
    assert stored.status_code == 200 and stored.json == {"stored": len(png)}


def test_enrolment_accepts_the_names_machines_really_have(client):
    office = make_office()
    answer = enroll_agent(
        client, office_token(office), mac="02:00:00:00:0a:01", hostname="Infomat_Hol 1"
    )
    assert answer.status_code == 200
    assert db.session.get(Device, answer.json["device_id"]).hostname == "infomat-hol-1"
