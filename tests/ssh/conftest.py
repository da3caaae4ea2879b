"""Real sshd servers for the SSH tests, and devices set up to reach them."""

import shutil

import pytest

from controller.devices.models import Management
from controller.extensions import db
from controller.ssh import keys
from controller.ssh.models import SshSettings
from tests.conftest import make_device
from tests.requirements import need
from tests.ssh.sshd import Silent, Sshd, available


@pytest.fixture(scope="session")
def client_key(tmp_path_factory):
    """One controller key for the session, copied into each test's instance folder."""
    folder = tmp_path_factory.mktemp("controller")
    keys.ensure_controller_key(folder)
    return keys.key_path(folder)


@pytest.fixture
def controller_key(app, client_key):
    """The test app uses the session's controller key (authorised on every test sshd)."""
    path = keys.key_path(app.instance_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(client_key, path)
    return keys.load_private_key(path.read_text())


def _servers(tmp_path_factory, client_key, name, ports=1):
    ok, reason = available()
    need(ok, reason)
    line = keys.public_line(keys.load_private_key(client_key.read_text()))
    return Sshd(tmp_path_factory.mktemp(name), [line], ports=ports)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory, client_key):
    """An sshd on three loopback ports (three "hosts" with one host key)."""
    server = _servers(tmp_path_factory, client_key, "sshd", ports=3)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def other_sshd(tmp_path_factory, client_key):
    """A second sshd with a host key of its own."""
    server = _servers(tmp_path_factory, client_key, "sshd-other")
    yield server
    server.stop()


@pytest.fixture
def silent():
    """A host that accepts TCP and never sends a banner."""
    listener = Silent()
    yield listener
    listener.stop()


def ssh_device(office, port: int, key_line: str | None, **kw):
    """An SSH-managed device reaching 127.0.0.1:port, with a pinned key when given."""
    device = make_device(office, management=Management.SSH, ip="127.0.0.1", **kw)
    settings = SshSettings(device_id=device.id, host="", port=port, username="root")
    if key_line:
        from controller.ssh.hostkeys import parse_key_line

        settings.host_key = key_line
        settings.host_key_fingerprint = keys.fingerprint(parse_key_line(key_line))
    db.session.add(settings)
    db.session.commit()
    return device
