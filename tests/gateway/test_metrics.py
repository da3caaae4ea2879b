"""The gateway's Prometheus endpoint, scraped over HTTP and checked with promtool."""

import re
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from agents.gateway import link, metrics
from agents.gateway.policy import Refusal
from tests.gateway.conftest import MAC
from tests.requirements import need


def _scrape(port: int, path: str = "/metrics") -> tuple[str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:  # noqa: S310
        return answer.headers["Content-Type"], answer.read().decode()


def _samples(text: str) -> dict[str, float]:
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", text, re.M)
    }


@pytest.fixture
def scraped(served):
    _path, kernel, gateway = served
    server = metrics.serve("127.0.0.1:0", gateway, link.VERSION)
    yield server.server_port, kernel, gateway
    server.shutdown()
    server.server_close()


def test_metrics_count_clients_logins_bytes_and_the_spool(scraped):
    port, kernel, gateway = scraped
    gateway.authorise("10.0.0.2", "click", None, True)  # offline: no controller here
    with pytest.raises(Refusal):
        gateway.authorise("10.0.0.3", "voucher", "nope", True)
    gateway.poll()
    kernel.counters = lambda: {("clients", f"{MAC} . 10.0.0.2"): 700, ("down4", "10.0.0.2"): 3000}
    gateway.poll()
    gateway.flush()
    kind, text = _scrape(port)
    assert kind.startswith("text/plain; version=0.0.4")
    got = _samples(text)
    assert got["telecentre_gateway_clients"] == 1
    assert got['telecentre_gateway_authorisations_total{result="granted_offline"}'] == 1
    assert got['telecentre_gateway_authorisations_total{result="refused"}'] == 1
    assert got['telecentre_gateway_authorisations_total{result="granted"}'] == 0
    assert got['telecentre_gateway_forwarded_bytes_total{direction="down"}'] == 3000
    assert got['telecentre_gateway_forwarded_bytes_total{direction="up"}'] == 700
    assert got["telecentre_gateway_spool_records"] == len(gateway.spool) == 1  # the start
    assert got["telecentre_gateway_controller_reachable"] == 0
    assert got[f'telecentre_gateway_info{{version="{link.VERSION}"}}'] == 1
    assert MAC not in text and "10.0.0." not in text  # nothing names a visitor
    with pytest.raises(urllib.error.HTTPError) as missing:
        _scrape(port, "/other")
    assert missing.value.code == 404
    missing.value.close()


def test_promtool_accepts_the_exposition(scraped):
    need(shutil.which("promtool") is not None, "promtool is missing (apt-get install prometheus)")
    port, _kernel, gateway = scraped
    gateway.authorise("10.0.0.2", "click", None, True)
    _kind, text = _scrape(port)
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                          text=True, check=False, timeout=30)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("text", "address"),
    [(":9469", ("0.0.0.0", 9469)), ("9469", ("0.0.0.0", 9469)),
     ("10.0.0.1:9100", ("10.0.0.1", 9100)), ("[::]:9469", ("::", 9469))],
)  # fmt: skip
def test_metrics_address(text, address):
    assert metrics.parse_address(text) == address


@pytest.mark.parametrize("text", ["host:port", ":70000", ""])
def test_bad_metrics_address(text):
    with pytest.raises(ValueError):
        metrics.parse_address(text)
