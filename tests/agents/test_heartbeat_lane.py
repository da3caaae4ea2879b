"""The heartbeat lane: the common heartbeat answered without Flask, everything else passed on.

Every other agent API test goes through the lane as well (it sits in front of the devices
app); these check that what it answers is what the devices app answers, and that whatever it
does not answer reaches the devices app untouched, with nothing written by the lane.
"""

import io
import json
import time
import uuid
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from agents.common import signing
from controller.devices.models import Device
from controller.extensions import db
from controller.fleet import guard
from controller.fleet.guard import MAX_BODY
from controller.fleet.lane import SETTING, HeartbeatLane, _json_body
from controller.fleet.models import AgentNonce, Command, CommandKind
from controller.types import utcnow
from tests.agents.helpers import (
    HEARTBEAT,
    enroll_agent,
    heartbeat_record,
    office_token,
    signed_post,
)
from tests.conftest import make_office


def _lane(client) -> HeartbeatLane:
    lane = client.application.extensions["devices_app"].wsgi_app
    assert isinstance(lane, HeartbeatLane)
    return lane


def _counts(lane: HeartbeatLane) -> tuple[int, int]:
    return lane.answered, lane.passed


def _answered_heartbeats() -> float:
    labels = {"endpoint": "agent.heartbeat", "status": "200"}
    return REGISTRY.get_sample_value("telecentre_agent_api_requests_total", labels) or 0.0


def _row(device_id: int) -> tuple:
    db.session.rollback()  # ends the read snapshot: the lane and the devices app wrote
    device = db.session.get(Device, device_id)
    db.session.refresh(device)
    nonces = db.session.scalar(select(func.count()).where(AgentNonce.device_id == device_id))
    return device.state, device.agent_seq, device.health, device.last_seen, nonces


def _online(client, enrolled) -> tuple[int, str]:
    device_id, secret = enrolled
    assert signed_post(client, device_id, secret, {"records": [heartbeat_record(1)]}).json["ack"]
    return device_id, secret


def _signed_by(answer, secret: str, nonce: str) -> bool:
    expected = signing.answer_signature(secret, nonce, answer.status_code, answer.data)
    return signing.same(expected, answer.headers.get(signing.SIGNATURE, ""))


def _post_beat(client, device_id, secret, seq, **health):
    body = json.dumps({"records": [heartbeat_record(seq, **health)]}).encode()
    headers = signing.sign_request(secret, device_id, "POST", HEARTBEAT, body)
    headers.update({"Content-Type": "application/json", "Accept-Language": "en"})
    answer = client.post(HEARTBEAT, data=body, headers=headers)
    return answer, headers[signing.NONCE]


def test_the_lane_answers_a_heartbeat_as_the_devices_app_does(client, backend, enrolled):
    device_id, secret = _online(client, enrolled)
    lane, app = _lane(client), client.application
    answers = {}
    for seq, on in ((2, True), (3, False), (4, True)):
        app.config[SETTING] = on
        before, counted = _counts(lane), _answered_heartbeats()
        answer, nonce = _post_beat(client, device_id, secret, seq, uptime_s=seq, cpu_percent=7.5)
        assert answer.status_code == 200 and _signed_by(answer, secret, nonce)
        assert answer.headers[signing.CONTROLLER] == app.config["CONTROLLER_ID"]
        assert answer.mimetype == "application/json"
        answered = on and backend == "sqlite"  # PostgreSQL: the devices app answers them all
        assert _counts(lane) == (before[0] + answered, before[1] + (not answered))
        assert _answered_heartbeats() == counted + 1  # counted and timed either way
        state, agent_seq, health, last_seen, nonces = _row(device_id)
        assert (state, agent_seq, health["uptime_s"], health["cpu_percent"], nonces) == (
            "online",
            seq,
            seq,
            7.5,
            seq,
        )
        assert utcnow() - last_seen < timedelta(seconds=5)
        answers[seq] = {k: v for k, v in answer.json.items() if k != "controller_time"}
    assert answers[2] == {**answers[3], "ack": 2} == {**answers[4], "ack": 2}
    assert answers[3] == {"ack": 3, "inventory_wanted": False,
                          "interval": app.config["AGENT_INTERVAL"], "commands": []}  # fmt: skip


def test_a_wanted_inventory_and_its_arrival_go_through_the_lane(client, backend, enrolled):
    device_id, secret = _online(client, enrolled)
    lane = _lane(client)
    answer, _nonce = _post_beat(client, device_id, secret, 2, inventory_hash="f" * 64)
    assert answer.json["inventory_wanted"] is True
    inventory = {"cpu_count": 4, "interfaces": [{"name": "eth0"}]}
    answer = signed_post(client, device_id, secret, {"records": [
        heartbeat_record(3, inventory_hash="f" * 64, inventory=inventory)]})  # fmt: skip
    assert answer.json["inventory_wanted"] is False
    db.session.rollback()
    device = db.session.get(Device, device_id)
    assert device.inventory == inventory and device.inventory_hash == "f" * 64
    assert lane.answered == (2 if backend == "sqlite" else 0)


def _queue_command(device_id: int) -> str:
    uid = uuid.uuid4().hex
    db.session.add(Command(device_id=device_id, kind=CommandKind.LOCK, created_by="test", uid=uid,
                           expires_at=utcnow() + timedelta(hours=1)))  # fmt: skip
    db.session.commit()
    return uid


PASSED = ["first_heartbeat", "command_waiting", "result_record", "replay", "bad_signature",
          "not_json", "nul_in_query", "over_the_size_limit", "bad_heartbeat",
          "lane_off"]  # fmt: skip


@pytest.mark.parametrize("case", PASSED)
def test_what_the_lane_does_not_answer_reaches_the_devices_app(client, enrolled, case):
    device_id, secret = enrolled if case == "first_heartbeat" else _online(client, enrolled)
    lane = _lane(client)
    records = {"records": [heartbeat_record(2)]}
    before_row = _row(device_id)
    if case == "command_waiting":
        uid = _queue_command(device_id)
    elif case == "result_record":
        result = {"uid": uuid.uuid4().hex, "exit_code": 0, "output": "", "duration_s": 0.1}
        records["records"].append({"seq": 3, "kind": "result", "body": result})
    elif case == "bad_heartbeat":
        records = {"records": [heartbeat_record(2, cpu_percent=500)]}
    elif case == "lane_off":
        client.application.config[SETTING] = False
    elif case == "over_the_size_limit":  # the configured limit, below the agent API's own
        records["records"][0]["body"]["os"] = "x" * 150
        client.application.config["MAX_CONTENT_LENGTH"] = 200
    before = _counts(lane)
    body = json.dumps(records).encode()
    headers = {**signing.sign_request(secret, device_id, "POST", HEARTBEAT, body),
               "Content-Type": "application/json", "Accept-Language": "en"}  # fmt: skip
    if case == "replay":
        assert client.post(HEARTBEAT, data=body, headers=headers).status_code == 200
        before, before_row = _counts(lane), _row(device_id)
        answer = client.post(HEARTBEAT, data=body, headers=headers)
    elif case == "bad_signature":
        answer = signed_post(client, device_id, secret, records,
                             headers={signing.SIGNATURE: "0" * 64})  # fmt: skip
    elif case == "nul_in_query":  # the signature covers the path, not the query
        answer = client.post(HEARTBEAT + "?x=%00", data=body, headers=headers)
    elif case == "not_json":
        answer = signed_post(client, device_id, secret, records,
                             headers={"Content-Type": "text/plain"})  # fmt: skip
    else:
        answer = signed_post(client, device_id, secret, records)
    assert _counts(lane) == (before[0], before[1] + 1)
    expected = {
        "first_heartbeat": 200, "command_waiting": 200, "result_record": 200, "lane_off": 200,
        "replay": 401, "bad_signature": 401, "not_json": 415, "nul_in_query": 400,
        "over_the_size_limit": 413,
        "bad_heartbeat": 422,
    }[case]  # fmt: skip
    assert answer.status_code == expected, answer.json
    after_row = _row(device_id)
    if expected != 200:  # refused: nothing written, by the lane or the devices app
        assert after_row == before_row
        return
    assert after_row[0] == "online" and after_row[1] == answer.json["ack"] > before_row[1]
    if case == "command_waiting":
        assert [c["uid"] for c in answer.json["commands"]] == [uid]


def test_an_unapproved_device_is_answered_by_the_devices_app(client):
    office = make_office(require_device_approval=True)
    new = enroll_agent(client, office_token(office), mac="02:00:00:00:0b:01").json
    lane = _lane(client)
    answer = signed_post(
        client, new["device_id"], new["secret"], {"records": [heartbeat_record(1)]}
    )
    assert answer.status_code == 403 and answer.json["error"]["code"] == "awaiting_approval"
    assert _counts(lane) == (0, 1)
    assert _row(new["device_id"])[1:] == (0, None, None, 0)


@pytest.mark.parametrize("backend", ["sqlite"])  # the lane's own connection: SQLite only
def test_the_lane_gets_a_new_connection_after_losing_its_own(client, enrolled):
    device_id, secret = _online(client, enrolled)
    lane = _lane(client)
    assert _post_beat(client, device_id, secret, 2)[0].status_code == 200
    assert _counts(lane)[0] == 1
    lane._local.target[1].close()  # as if the database went away under it
    started = time.monotonic()
    assert _post_beat(client, device_id, secret, 3)[0].json["ack"] == 3
    assert _counts(lane) == (1, 2)  # passed on, and answered by the devices app
    assert _post_beat(client, device_id, secret, 4)[0].json["ack"] == 4
    assert _counts(lane) == (2, 2) and time.monotonic() - started < 5


def test_a_remembered_salt_is_checked_against_the_row_under_the_lock(client, enrolled):
    """Signatures are checked against the salt of the device's last accepted request without
    reading its row; the row read under the write lock still decides."""
    device_id, secret = _online(client, enrolled)
    assert _post_beat(client, device_id, secret, 2)[0].status_code == 200
    db.session.rollback()
    device = db.session.get(Device, device_id)
    assert guard._SALTS[device_id] == device.agent_salt  # remembered: no read before the lock
    device.agent_salt = None  # the agent's credential withdrawn
    db.session.commit()
    refused, _nonce = _post_beat(client, device_id, secret, 3)
    assert refused.status_code == 401 and "enrol" in refused.json["error"]["message"]
    _state, agent_seq, _health, _last_seen, nonces = _row(device_id)
    assert (agent_seq, nonces) == (2, 2)  # nothing written
    assert device_id not in guard._SALTS  # forgotten: the next request reads the row first


@pytest.mark.parametrize(
    "length", ["", "0", "-1", "1e3", "٣٣", "9" * 5000, str(MAX_BODY + 1), "1000000000000"]
)
def test_the_lane_reads_only_bodies_of_a_plain_valid_length(length):
    environ = {"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": length,
               "wsgi.input": io.BytesIO(b"{}")}  # fmt: skip
    assert _json_body(environ, MAX_BODY) is None
    assert environ["wsgi.input"].tell() == 0  # left for the devices app to read
