"""`promtool check metrics` (Prometheus's own linter) on a real scrape of a populated fleet."""

import shutil
import subprocess

import pytest

from tests.metrics.test_collector import _dataset
from tests.requirements import need

PROMTOOL = shutil.which("promtool")


@pytest.mark.parametrize("app", [{"METRICS_ALLOW": "127.0.0.1"}], indirect=True)
def test_promtool_accepts_the_exposition(app, client):
    need(PROMTOOL is not None, "promtool is not installed (Debian package prometheus)")
    _dataset(app)
    client.get("/healthz")
    client.post("/api/agent/v1/heartbeat", json={})
    text = client.get("/metrics").get_data()
    assert b'telecentre_device_down_seconds{device_id="' in text
    assert b"telecentre_http_request_duration_seconds_bucket{" in text
    done = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                          timeout=30)  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
    assert done.stdout.strip() == b"" and done.stderr.strip() == b""


def test_promtool_does_catch_a_bad_name():
    """The check above could fail: promtool does complain about a counter without _total."""
    need(PROMTOOL is not None, "promtool is not installed (Debian package prometheus)")
    bad = b"# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n"
    done = subprocess.run([PROMTOOL, "check", "metrics"], input=bad, capture_output=True,
                          timeout=30)  # fmt: skip
    assert done.returncode != 0 and b"_total" in done.stdout + done.stderr
