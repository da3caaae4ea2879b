"""SSH through the API, the pages and the CLI: scoping, trust, settings, job run exit codes."""

import time

import pytest
from sqlalchemy import select

from controller.audit.models import AuditLog
from controller.auth.roles import Role
from controller.extensions import db
from controller.ssh.models import SshSettings
from tests.conftest import bearer, login, make_device, make_office, make_token, make_user, post_form
from tests.ssh.conftest import ssh_device


@pytest.fixture(autouse=True)
def _short_timeouts(app):
    app.config["SSH_CONNECT_TIMEOUT"] = 2


def _wait(client, headers, job_id):
    for _ in range(100):
        db.session.rollback()  # requests share the test's session: drop its old snapshot
        body = client.get(f"/api/v1/ssh/jobs/{job_id}", headers=headers).json
        if body["state"] not in ("queued", "running"):
            return body
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def test_job_through_the_api_is_scoped(client, controller_key, sshd):
    own, other = make_office(), make_office()
    mine = ssh_device(own, sshd.port, sshd.key_line)
    theirs = ssh_device(other, sshd.ports[1], sshd.key_line)
    user = make_user(Role.IT_ADMIN, offices=[own])
    headers = bearer(make_token(user))

    def post(target, **kw):
        body = {"target": target, "command": "echo ok", **kw}
        return client.post("/api/v1/ssh/jobs", headers=headers, json=body)

    assert post([f"device:{theirs.id}"]).status_code == 404
    assert post([f"office:{other.id}"]).status_code == 404
    assert post(["device:999999"]).status_code == 404
    empty = post(["tag:nothing-has-it"])
    assert empty.status_code == 422 and "target" in empty.json["error"]["fields"]
    assert post([]).status_code == 422
    assert post(["planet:mars"]).status_code == 422
    body = {"target": ["kind:pc"], "command": "x", "template": "reboot"}
    both = client.post("/api/v1/ssh/jobs", headers=headers, json=body)
    assert both.status_code == 422 and "command" in both.json["error"]["fields"]

    started = post(["kind:pc"])  # every PC of the county, but only ours is in scope
    assert started.status_code == 202, started.json
    done = _wait(client, headers, started.json["id"])
    assert done["state"] == "finished" and done["counts"] == {"ok": 1}
    assert [h["device_id"] for h in done["hosts"]] == [mine.id]
    assert done["hosts"][0]["output"] == "ok\n"
    listed = client.get("/api/v1/ssh/jobs", headers=headers).json["items"]
    assert [j["id"] for j in listed] == [done["id"]]
    audit = db.session.execute(select(AuditLog.action, AuditLog.office_id)).all()
    assert ("ssh.job.create", own.id) in audit
    assert not [a for a in audit if a.office_id == other.id]  # the other office was not touched


def test_a_changed_host_key_is_an_alert_until_the_new_key_is_trusted(
    client, runner, controller_key, sshd, other_sshd
):
    from controller.ssh import keys
    from controller.ssh.hostkeys import parse_key_line

    device = ssh_device(make_office(), other_sshd.port, sshd.key_line, name="REINSTALLED")
    result = runner.invoke(args=["job", "run", "--target", f"device:{device.id}",
                                 "--command", "true"])  # fmt: skip
    assert result.exit_code == 1 and "host_key_changed" in result.output
    db.session.rollback()
    new = keys.fingerprint(parse_key_line(other_sshd.key_line))
    login(client, make_user(Role.IT_ADMIN))
    alerts = client.get("/alerts").get_data(as_text=True)
    assert "REINSTALLED" in alerts and new in alerts
    assert new in client.get(f"/devices/{device.id}").get_data(as_text=True)
    assert runner.invoke(args=["ssh", "trust", "--device", str(device.id),
                               "--fingerprint", new]).exit_code == 0  # fmt: skip
    db.session.rollback()
    assert "REINSTALLED" not in client.get("/alerts").get_data(as_text=True)


def test_job_through_the_pages(client, controller_key, sshd):
    office = make_office()
    device = ssh_device(office, sshd.port, sshd.key_line, name="AP-HALL")
    user = make_user(Role.IT_ADMIN, offices=[office])
    login(client, user)
    bad = post_form(client, "/ssh/jobs", {"target": "", "command": "uptime"}, page="/ssh/jobs")
    assert bad.status_code == 422
    response = post_form(client, "/ssh/jobs", {"target": f"device:{device.id}",
                         "command": "echo from-the-page", "concurrency": "5",
                         "timeout_s": "10"}, page="/ssh/jobs")  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    page_url = response.headers["Location"]
    for _ in range(100):
        db.session.rollback()
        html = client.get(page_url).get_data(as_text=True)
        if 'data-live="' not in html:  # finished: the page stops refreshing itself
            break
        time.sleep(0.1)
    assert "AP-HALL" in html and "<pre>from-the-page" in html


def test_cli_job_run_prints_hosts_and_exit_codes(app, runner, controller_key, sshd):
    office = make_office()
    good = ssh_device(office, sshd.port, sshd.key_line, name="GOOD")
    ok = runner.invoke(args=["job", "run", "--target", f"device:{good.id}",
                             "--command", "echo fine"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "GOOD" in ok.output and " ok " in ok.output and "| fine" in ok.output
    db.session.rollback()
    ssh_device(office, sshd.port, None, name="UNTRUSTED")
    mixed = runner.invoke(args=["job", "run", "--target", f"office:{office.name}",
                                "--command", "true"])  # fmt: skip
    assert mixed.exit_code == 1
    assert "UNTRUSTED" in mixed.output and "not_pinned" in mixed.output
    assert "1 ok, 1 failed" in mixed.output
    db.session.rollback()
    nothing = runner.invoke(args=["job", "run", "--target", "tag:none", "--command", "true"])
    assert nothing.exit_code == 2 and "No device" in nothing.output


def test_cli_ssh_trust_pins_only_the_confirmed_key(app, runner, controller_key, sshd):
    from controller.ssh import keys
    from controller.ssh.hostkeys import parse_key_line

    device = ssh_device(make_office(), sshd.port, None)
    real = keys.fingerprint(parse_key_line(sshd.key_line))
    wrong = runner.invoke(args=["ssh", "trust", "--device", str(device.id),
                                "--fingerprint", "SHA256:" + "A" * 43])  # fmt: skip
    assert wrong.exit_code == 2 and real in wrong.output
    right = runner.invoke(args=["ssh", "trust", "--device", str(device.id), "--fingerprint", real])
    assert right.exit_code == 0, right.output
    db.session.commit()
    settings = db.session.get(SshSettings, device.id)
    assert settings.host_key == sshd.key_line and settings.host_key_fingerprint == real
    assert "ssh.trust" in db.session.scalars(select(AuditLog.action)).all()


def test_settings_fetch_and_trust_through_the_api(client, app, controller_key, sshd):
    office = make_office()
    device = make_device(office, management="ssh", ip="127.0.0.1")
    agent_pc = make_device(office)
    headers = bearer(make_token(make_user(Role.IT_ADMIN)))
    url = f"/api/v1/devices/{device.id}/ssh"
    assert client.put(f"/api/v1/devices/{agent_pc.id}/ssh", headers=headers,
                      json={"port": sshd.port}).status_code == 422  # fmt: skip
    key_pem = keys_text(app)
    saved = client.put(url, headers=headers, json={"port": sshd.port, "username": "root",
                       "auth": "device", "private_key": key_pem})  # fmt: skip
    assert saved.status_code == 200, saved.json
    assert saved.json["has_device_key"] and "private_key" not in saved.json
    stored = db.session.get(SshSettings, device.id).device_key
    assert "PRIVATE KEY" not in stored and key_pem not in stored
    fetched = client.post(f"{url}/host-key", headers=headers)
    assert fetched.status_code == 200 and fetched.json["key"] == sshd.key_line
    trusted = client.post(f"{url}/trust", headers=headers,
                          json={"fingerprint": fetched.json["fingerprint"]})  # fmt: skip
    assert trusted.status_code == 200 and trusted.json["host_key"] == sshd.key_line
    job = client.post(
        "/api/v1/ssh/jobs",
        headers=headers,
        json={"target": [f"device:{device.id}"], "command": "echo device-key"},
    )
    assert _wait(client, headers, job.json["id"])["counts"] == {"ok": 1}
    bad = client.put(url, headers=headers, json={"private_key": "not a key"})
    assert bad.status_code == 422 and "private_key" in bad.json["error"]["fields"]
    key = client.get("/api/v1/ssh/public-key", headers=headers).json
    assert key["public_key"].startswith("ssh-ed25519 ")


def keys_text(app) -> str:
    from controller.ssh import keys

    return keys.key_path(app.instance_path).read_text()


def test_device_page_shows_ssh_section_and_trust_button(client, controller_key, sshd):
    office = make_office()
    device = make_device(office, management="ssh", ip="127.0.0.1")
    login(client, make_user(Role.ADMIN))
    page = f"/devices/{device.id}"
    saved = post_form(client, f"{page}/ssh", {"port": str(sshd.port), "username": "root",
                      "auth": "controller"}, page=page)  # fmt: skip
    assert saved.status_code == 302
    fetched = post_form(client, f"{page}/ssh/fetch", page=page)
    html = fetched.get_data(as_text=True)
    assert fetched.status_code == 200 and "fetched-fingerprint" in html
    fingerprint = html.split('name="fingerprint" value="')[1].split('"')[0]
    assert post_form(client, f"{page}/ssh/trust", {"fingerprint": fingerprint},
                     page=page).status_code == 302  # fmt: skip
    assert fingerprint in client.get(page).get_data(as_text=True)
    assert "ssh-ed25519" in client.get("/ssh/key").get_data(as_text=True)


@pytest.mark.parametrize(
    "body",
    [
        {"target": ["device:²"], "command": "true"},  # a digit to str.isdigit, not to int()
        {"target": [f"device:{10**25}"], "command": "true"},
        {"target": [f"office:{10**25}"], "command": "true"},
    ],
)
def test_odd_targets_are_a_clear_4xx_and_start_nothing(client, body):
    from controller.ssh.models import Job

    headers = bearer(make_token(make_user(Role.IT_ADMIN)))
    answer = client.post("/api/v1/ssh/jobs", headers=headers, json=body)
    assert answer.status_code in (404, 422) and answer.json["error"]["message"]
    assert db.session.scalars(select(Job)).all() == []


@pytest.mark.parametrize("host", ["a..b", ".", "x" * 64 + ".example", "host name"])
def test_ssh_host_must_be_a_host_name_or_address(client, host):
    device = make_device(make_office(), management="ssh", ip="127.0.0.1")
    headers = bearer(make_token(make_user(Role.IT_ADMIN)))
    answer = client.put(f"/api/v1/devices/{device.id}/ssh", headers=headers, json={"host": host})
    assert answer.status_code == 422 and "host" in answer.json["error"]["fields"]
    assert db.session.get(SshSettings, device.id) is None
    good = client.put(f"/api/v1/devices/{device.id}/ssh", headers=headers,
                      json={"host": "AP-1.Gmina.local"})  # fmt: skip
    assert good.status_code == 200 and good.json["host"] == "ap-1.gmina.local"
