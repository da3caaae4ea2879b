"""Who may scrape /metrics: the metrics token or an allowed address, nobody else."""

import hashlib
import json
import stat

import pytest
from sqlalchemy import select

from controller import create_app
from controller.audit.models import AuditLog
from controller.extensions import db
from tests.conftest import TEST_CONFIG, bearer, login, make_token, make_user

TOKEN = "tm_test-metrics-token-0123456789"


def test_refused_to_everybody_when_nothing_is_configured(client):
    answer = client.get("/metrics")
    assert answer.status_code == 403
    assert answer.json["error"]["code"] == "forbidden"
    assert "telecentre_" not in answer.get_data(as_text=True)


def test_a_staff_session_or_api_token_does_not_open_it(client):
    admin = make_user("admin")
    assert client.get("/metrics", headers=bearer(make_token(admin))).status_code == 403
    login(client, admin)
    assert client.get("/metrics").status_code == 403


@pytest.mark.parametrize("app", [{"METRICS_TOKEN": TOKEN}], indirect=True)
def test_the_configured_token_opens_it(client):
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.json["error"]["code"] == "unauthorized"
    wrong = client.get("/metrics", headers=bearer(TOKEN + "x"))
    assert wrong.status_code == 401 and "telecentre_" not in wrong.get_data(as_text=True)
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    answer = client.get("/metrics", headers=bearer(TOKEN))
    assert answer.status_code == 200
    assert answer.content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE telecentre_devices gauge" in answer.get_data(as_text=True)


@pytest.mark.parametrize("app", [{"METRICS_ALLOW": "10.0.0.0/8, 127.0.0.1/32"}], indirect=True)
def test_an_allowed_address_needs_no_token(client):
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    mapped = client.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:10.1.2.3"})
    assert mapped.status_code == 200  # an IPv4 scraper as a dual-stack socket shows it
    refused = client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert refused.status_code == 403


def test_a_damaged_token_file_matches_nothing_and_breaks_nothing(app, client, tmp_path):
    (tmp_path / "metrics_token.sha256").write_text("zażółć\n" + "f" * 64 + "\n")
    assert client.get("/metrics", headers=bearer("tm_whatever")).status_code == 401


def test_the_cli_token_opens_it_and_is_audited(app, runner, client, tmp_path):
    output = tmp_path / "prometheus" / "controller.token"
    done = runner.invoke(args=["metrics", "token", "--output", str(output)])
    assert done.exit_code == 0, done.output
    secret = done.output.strip()
    assert secret.startswith("tm_") and len(secret) > 40
    assert output.read_text().strip() == secret
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    stored = (tmp_path / "metrics_token.sha256").read_text().strip()
    assert stored == hashlib.sha256(secret.encode()).hexdigest()  # the secret is not kept
    assert client.get("/metrics", headers=bearer(secret)).status_code == 200
    assert client.get("/metrics").status_code == 401
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "metrics.token_create"))
    assert entry is not None and entry.via == "cli" and secret not in json.dumps(entry.after)
    again = runner.invoke(args=["metrics", "token"]).output.strip()
    assert client.get("/metrics", headers=bearer(secret)).status_code == 401  # replaced
    assert client.get("/metrics", headers=bearer(again)).status_code == 200


@pytest.mark.parametrize("value", ["10.0.0/x", 10])  # 10: what the environment's JSON gives
def test_an_invalid_allow_list_stops_the_start(tmp_path, monkeypatch, value):
    monkeypatch.setenv("TELECENTRE_INSTANCE_PATH", str(tmp_path))
    config = {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://", "METRICS_ALLOW": value}
    with pytest.raises(RuntimeError, match="METRICS_ALLOW"):
        create_app(config)
