"""The shipped dnsmasq configuration, the walled-garden file and the systemd units."""

import configparser
import re
import shutil
import subprocess
from pathlib import Path

from agents.gateway import link
from tests.requirements import need

GATEWAY = Path(__file__).resolve().parents[2] / "agents" / "gateway"


def test_garden_conf_lists_valid_hosts_only():
    text = link.garden_conf(["gov.pl", "ePUAP.gov.pl.", "bad host", "x;rm", ""])
    assert (
        text == "nftset=/epuap.gov.pl/gov.pl/4#inet#telecentre#garden4,6#inet#telecentre#garden6\n"
    )
    assert link.garden_conf([]).startswith("#")


def test_dnsmasq_conf_carries_the_portal_url_for_ipv4_and_ipv6_and_is_valid(tmp_path):
    conf = (GATEWAY / "dnsmasq.conf").read_text()
    v4 = re.search(r'^dhcp-option=114,"(https://[^"]+)"$', conf, re.M)
    v6 = re.search(r'^dhcp-option=option6:103,"(https://[^"]+)"$', conf, re.M)  # RFC 8910
    assert v4 and v6 and v4.group(1) == v6.group(1) and v4.group(1).endswith("/api/captive")
    need(shutil.which("dnsmasq") is not None, "dnsmasq is not installed (apt-get install dnsmasq)")
    garden = tmp_path / "garden.conf"
    garden.write_text(link.garden_conf(["gov.pl"]))
    copy = tmp_path / "dnsmasq.conf"
    copy.write_text(conf.replace("/run/telecentre-gateway/garden.conf", str(garden)))
    done = subprocess.run(["dnsmasq", "--test", f"--conf-file={copy}"], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "syntax check OK" in done.stderr


def test_systemd_units_run_the_console_scripts():
    for name, script in (("telecentre-gateway", "telecentre-gateway run"),
                         ("telecentre-portal", "telecentre-portal --gateway-socket")):  # fmt: skip
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.read(GATEWAY / "systemd" / f"{name}.service")
        assert script in unit["Service"]["ExecStart"]
    portal = (GATEWAY / "systemd" / "telecentre-portal.service").read_text()
    assert "User=telecentre-portal" in portal  # unprivileged
