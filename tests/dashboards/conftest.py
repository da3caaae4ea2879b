"""Fixtures of the dashboards tests: the shipped files and the names the controller exposes."""

import re
from pathlib import Path

import pytest

from controller.metrics.views import ALLOWED, allow_list
from tests.metrics.helpers import samples
from tests.metrics.test_collector import _dataset

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
# Names of the gateway daemon's own /metrics (agents/gateway, port 9469) and Prometheus's own.
OTHER_PREFIXES = ("telecentre_gateway_",)
PROMETHEUS_NAMES = {"up"}
NAME = re.compile(r"\b(telecentre_[a-z_]+|up)\b")


def names_in(expr: str) -> set[str]:
    """Metric names an expression uses (names of ours, and Prometheus's `up`)."""
    return set(NAME.findall(expr))


@pytest.fixture
def backend():
    """The names do not depend on the database; SQLite is enough."""
    return "sqlite"


@pytest.fixture
def exposed(app, client) -> set[str]:
    """Every family and sample name of a populated controller's /metrics."""
    app.extensions[ALLOWED] = allow_list("127.0.0.1")  # parsed at start-up, like the config
    _dataset(app)
    client.post("/login", data={})
    client.post("/api/agent/v1/heartbeat", json={})
    text = client.get("/metrics").get_data(as_text=True)
    names = set(samples(text))
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.M):
        suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
        names |= {name + suffix for suffix in suffixes}
    return names


def unknown(names: set[str], exposed: set[str]) -> set[str]:
    """The names that neither the controller, the gateways nor Prometheus provide."""
    return {n for n in names - exposed - PROMETHEUS_NAMES if not n.startswith(OTHER_PREFIXES)}
