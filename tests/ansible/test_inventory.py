"""The dynamic inventory script against a running controller (a real HTTP server)."""

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from werkzeug.serving import make_server

from controller.auth.roles import Role
from controller.devices.models import Device, DeviceKind, DeviceState, Management
from controller.extensions import db
from controller.offices.models import OfficeType
from controller.ssh.models import SshSettings
from tests.ansible.conftest import INVENTORY_SCRIPT, ansible_env, run
from tests.conftest import make_device, make_office, make_token, make_user


def inventory(url: str, token: str | None, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run the script as Ansible does (its own process, settings in the environment)."""
    environ = {"TELECENTRE_URL": url, **env}
    if token is not None:
        environ["TELECENTRE_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, str(INVENTORY_SCRIPT), *(args or ("--list",))],
        env={"PATH": "/usr/bin:/bin", **environ}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture
def county():
    """Two offices with a PC, an infomat, a gateway, an SSH device and some left out."""
    cycow = make_office(name="Urząd Gminy Cyców")
    leczna = make_office(name="Starostwo Powiatowe w Łęcznej", type=OfficeType.STAROSTWO)
    made = {
        "pc": make_device(cycow, name="PC-01", ip="10.1.0.11", tags=["sala-1"]),
        "infomat": make_device(cycow, name="Infomat", kind=DeviceKind.INFOMAT,
                               hostname="infomat.cycow.example"),
        "gateway": make_device(cycow, name="GW", kind=DeviceKind.GATEWAY, ip="10.1.0.1"),
        "ap": make_device(leczna, name="AP-1", kind=DeviceKind.HOTSPOT,
                          management=Management.SSH, ip="10.2.0.5"),
        "retired": make_device(leczna, name="Old PC", state=DeviceState.RETIRED),
        "unmanaged": make_device(leczna, name="Printer", kind=DeviceKind.OTHER,
                                 management=Management.NONE),
    }  # fmt: skip
    db.session.add(
        SshSettings(device_id=made["ap"].id, host="ap1.leczna.example", port=2222, username="admin")
    )
    db.session.commit()
    return cycow, leczna, made


def test_groups_and_host_variables(live_server, county):
    cycow, leczna, made = county
    token = make_token(make_user(Role.ADMIN))
    done = inventory(live_server, token)
    assert done.returncode == 0, done.stderr
    inv = json.loads(done.stdout)
    assert "left out 2 retired or unmanaged device(s)" in done.stderr
    hostvars = inv["_meta"]["hostvars"]
    pc = f"pc-01-{made['pc'].id}"
    assert set(hostvars) == {pc, "infomat.cycow.example", f"gw-{made['gateway'].id}",
                             f"ap-1-{made['ap'].id}"}  # fmt: skip
    assert sorted(inv["office_urzad_gminy_cycow"]["hosts"]) == sorted(
        [pc, "infomat.cycow.example", f"gw-{made['gateway'].id}"]
    )
    assert inv["office_urzad_gminy_cycow"]["vars"]["telecentre_office_id"] == cycow.id
    assert inv["office_starostwo_powiatowe_w_lecznej"]["hosts"] == [f"ap-1-{made['ap'].id}"]
    assert sorted(inv["telecentre_endpoints"]["hosts"]) == sorted([pc, "infomat.cycow.example"])
    assert inv["telecentre_gateways"]["hosts"] == [f"gw-{made['gateway'].id}"]
    assert inv["kind_infomat"]["hosts"] == ["infomat.cycow.example"]
    assert inv["tag_sala_1"]["hosts"] == [pc]
    assert inv["management_ssh"]["hosts"] == [f"ap-1-{made['ap'].id}"]
    assert hostvars[pc]["ansible_host"] == "10.1.0.11"
    assert hostvars[pc]["telecentre_device_id"] == made["pc"].id
    assert hostvars[pc]["telecentre_office_name"] == "Urząd Gminy Cyców"
    assert hostvars[pc]["telecentre_mac"] == made["pc"].mac
    assert hostvars["infomat.cycow.example"]["ansible_host"] == "infomat.cycow.example"
    ap = hostvars[f"ap-1-{made['ap'].id}"]
    assert (ap["ansible_host"], ap["ansible_port"], ap["ansible_user"]) == (
        "ap1.leczna.example", 2222, "admin")  # fmt: skip
    one = inventory(live_server, token, "--host", pc)
    assert one.returncode == 0 and json.loads(one.stdout) == hostvars[pc]


def test_ansible_reads_it_through_the_shipped_config(live_server, county, tmp_path):
    _cycow, _leczna, made = county
    token = make_token(make_user(Role.ADMIN))
    env = ansible_env(tmp_path, TELECENTRE_URL=live_server, TELECENTRE_API_TOKEN=token)
    done = run(["ansible-inventory", "--list"], env)  # the config's inventory: the folder
    assert done.returncode == 0, done.stderr
    inv = json.loads(done.stdout)
    assert f"pc-01-{made['pc'].id}" in inv["telecentre_endpoints"]["hosts"]
    assert "telecentre_controller" in inv["all"]["children"]
    graph = run(["ansible-inventory", "--graph", "telecentre_gateways"], env)
    assert f"gw-{made['gateway'].id}" in graph.stdout


def test_a_gmina_token_sees_only_its_office(live_server, county):
    cycow, _leczna, made = county
    token = make_token(make_user(Role.IT_ADMIN, offices=[cycow]))
    inv = json.loads(inventory(live_server, token).stdout)
    assert not any(group.startswith("office_starostwo") for group in inv)
    assert f"ap-1-{made['ap'].id}" not in inv["_meta"]["hostvars"]
    assert len(inv["_meta"]["hostvars"]) == 3


def test_every_page_is_read(live_server):
    office = make_office()
    db.session.add_all(
        Device(office_id=office.id, kind=DeviceKind.PC, name=f"PC-{n:03d}",
               ip=f"10.9.{n // 250}.{n % 250 + 1}", management=Management.AGENT)
        for n in range(230)
    )  # fmt: skip
    db.session.commit()
    inv = json.loads(inventory(live_server, make_token(make_user(Role.ADMIN))).stdout)
    assert len(inv["telecentre_endpoints"]["hosts"]) == 230


def test_a_device_without_an_address_fails_the_whole_inventory(live_server, county, tmp_path):
    _cycow, leczna, _made = county
    lost = make_device(leczna, name="Kiosk bez adresu", kind=DeviceKind.INFOMAT)
    token = make_token(make_user(Role.ADMIN))
    done = inventory(live_server, token)
    assert done.returncode == 1 and done.stdout == ""
    assert "neither an IP address nor a host name" in done.stderr
    assert f"Kiosk bez adresu (id {lost.id}, Starostwo Powiatowe w Łęcznej)" in done.stderr
    env = ansible_env(tmp_path, TELECENTRE_URL=live_server, TELECENTRE_API_TOKEN=token)
    through_ansible = run(["ansible-inventory", "--list"], env)
    assert through_ansible.returncode != 0
    assert "neither an IP address nor a host name" in through_ansible.stderr


def test_a_missing_token_is_named(live_server, tmp_path):
    done = inventory(live_server, None)
    assert done.returncode == 1 and done.stdout == ""
    assert "no API token: set TELECENTRE_API_TOKEN" in done.stderr
    unset = inventory("", "x")
    assert unset.returncode == 1 and "TELECENTRE_URL is not set" in unset.stderr
    missing_file = inventory(live_server, None, TELECENTRE_API_TOKEN_FILE=str(tmp_path / "nope"))
    assert (
        missing_file.returncode == 1
        and "cannot read TELECENTRE_API_TOKEN_FILE" in missing_file.stderr
    )


def test_a_refused_token_is_named(live_server, tmp_path):
    done = inventory(live_server, "tc_not-a-real-token")
    assert done.returncode == 1 and done.stdout == ""
    assert "refused the API token (401" in done.stderr
    token_file = tmp_path / "token"
    token_file.write_text(make_token(make_user(Role.VIEWER)) + "\n")
    assert inventory(live_server, None, TELECENTRE_API_TOKEN_FILE=str(token_file)).returncode == 0


def test_an_unreachable_controller_is_named(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = inventory(f"http://127.0.0.1:{port}", "tc_x", TELECENTRE_INVENTORY_TIMEOUT="2")
    assert done.returncode == 1 and done.stdout == ""
    assert f"cannot reach the controller at http://127.0.0.1:{port}" in done.stderr
    env = ansible_env(tmp_path, TELECENTRE_URL=f"http://127.0.0.1:{port}", TELECENTRE_API_TOKEN="x")
    assert run(["ansible-inventory", "--list"], env).returncode != 0


class _Portal(BaseHTTPRequestHandler):
    """A captive portal's answer to everything: a 200 with a web page."""

    def do_GET(self):  # noqa: N802 - the name http.server calls
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>Welcome to the hotspot</html>")

    def log_message(self, *args):
        pass


def test_something_else_than_the_controller_is_named():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done = inventory(f"http://127.0.0.1:{server.server_port}", "tc_x")
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 1 and done.stdout == ""
    assert "did not answer with JSON: is TELECENTRE_URL the controller?" in done.stderr


def test_names_that_would_clash_stay_apart(live_server):
    accented = make_office(name="Urząd Gminy Łęczna")
    plain = make_office(name="Urzad Gminy Leczna")
    one = make_device(accented, name="PC 1", hostname="pc.example", ip="10.3.0.1")
    two = make_device(plain, name="PC 1", hostname="pc.example", ip="10.4.0.1")
    inv = json.loads(inventory(live_server, make_token(make_user(Role.ADMIN))).stdout)
    assert inv[f"office_urzad_gminy_leczna_{accented.id}"]["hosts"] == [f"pc-1-{one.id}"]
    assert inv[f"office_urzad_gminy_leczna_{plain.id}"]["hosts"] == [f"pc-1-{two.id}"]
    assert "office_urzad_gminy_leczna" not in inv


def test_an_ssh_host_is_an_address_too(live_server):
    office = make_office()
    switch = make_device(office, name="Switch", kind=DeviceKind.OTHER, management=Management.SSH)
    db.session.add(SshSettings(device_id=switch.id, host="sw.example", port=22, username="root"))
    db.session.commit()
    done = inventory(live_server, make_token(make_user(Role.ADMIN)))
    assert done.returncode == 0, done.stderr
    hostvars = json.loads(done.stdout)["_meta"]["hostvars"][f"switch-{switch.id}"]
    assert hostvars["ansible_host"] == "sw.example"


@pytest.fixture
def tls_server(app, tmp_path):
    """The app over HTTPS with a self-signed certificate; (base URL, certificate path)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
         "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=(str(cert), str(key)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}", cert
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_controller_with_its_own_certificate_needs_its_ca(tls_server):
    url, cert = tls_server
    token = make_token(make_user(Role.ADMIN))
    untrusted = inventory(url, token)
    assert untrusted.returncode == 1 and untrusted.stdout == ""
    assert "cannot reach the controller" in untrusted.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    trusted = inventory(url, token, TELECENTRE_CA_FILE=str(cert))
    assert trusted.returncode == 0, trusted.stderr
    assert "telecentre_endpoints" not in json.loads(trusted.stdout)  # no devices yet
