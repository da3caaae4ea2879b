"""Ruleset text, element commands and counter parsing (no kernel needed)."""

import json

import pytest

from agents.gateway import nft


def net(**kw) -> nft.Network:
    return nft.Network(**{"lan_if": "br0", "wan_if": "wan0", "portal_port": 8080, **kw})


def test_ruleset_replaces_one_inet_table_atomically():
    text = nft.ruleset(net())
    assert text.startswith("table inet telecentre {}\ndelete table inet telecentre\n")
    assert text.count("table inet telecentre {\n") == 1
    assert "set clients { type ether_addr . ipv4_addr; flags timeout; counter; }" in text
    assert "set clients6 { type ether_addr . ipv6_addr; flags timeout; counter; }" in text
    assert "policy drop" in text  # forward: deny by default, IPv6 included (inet)
    assert "tcp dport 80 fib daddr type != local redirect to :8080" in text


def test_ruleset_has_no_rule_per_client_and_takes_the_garden():
    text = nft.ruleset(net(garden_v4=("10.0.0.0/24", "192.0.2.7"), garden_v6=("2001:db8::/32",)))
    assert "elements = { 10.0.0.0/24, 192.0.2.7/32 }" in text
    assert "elements = { 2001:db8::/32 }" in text
    client = nft.Client("02:00:00:00:00:01", "10.0.0.2", ["fd00::2"], 60, 8000, 2000)
    assert nft.ruleset(net()) == text.replace("10.0.0.0/24, 192.0.2.7/32", "").replace(
        "2001:db8::/32", ""
    ).replace("elements = {  }", "")
    commands = nft.add_commands(client, set())
    assert "add rule" in commands  # the rate tiers' first use only
    assert "add rule" not in nft.add_commands(client, {("up", 250), ("down", 1000)})


@pytest.mark.parametrize("name", ["br0; flush ruleset", 'a"b', "x" * 16, ""])
def test_interface_names_cannot_inject_nft_syntax(name):
    with pytest.raises(ValueError):
        nft.ruleset(net(lan_if=name))


def test_client_elements_carry_the_timeout_and_rate_tiers():
    client = nft.Client("02:00:00:00:00:01", "10.0.0.2", ["fd00::2"], 90, 16000, None)
    text = nft.add_commands(client, set())
    assert (
        "add element inet telecentre clients { 02:00:00:00:00:01 . 10.0.0.2 timeout 90s }" in text
    )
    assert (
        "add element inet telecentre clients6 { 02:00:00:00:00:01 . fd00::2 timeout 90s }" in text
    )
    assert (
        "add element inet telecentre rate_down4 { 10.0.0.2 timeout 90s : jump down_2000 }" in text
    )
    assert "rate_up4" not in text  # no upload limit granted
    assert "limit rate over 2000 kbytes/second" in text


def test_delete_is_idempotent_by_adding_first():
    client = nft.Client("02:00:00:00:00:01", "10.0.0.2", [], 5, None, None)
    lines = nft.delete_commands(client).splitlines()
    assert lines == [
        "add element inet telecentre clients { 02:00:00:00:00:01 . 10.0.0.2 timeout 5s }",
        "delete element inet telecentre clients { 02:00:00:00:00:01 . 10.0.0.2 }",
        "add element inet telecentre down4 { 10.0.0.2 timeout 5s }",
        "delete element inet telecentre down4 { 10.0.0.2 }",
    ]


def test_counters_are_parsed_from_nft_json():
    listing = {"nftables": [{"metainfo": {}}, {"set": {"name": "clients", "elem": [
        {"elem": {"val": {"concat": ["02:00:00:00:00:01", "10.0.0.2"]}, "timeout": 60,
                  "counter": {"packets": 3, "bytes": 1234}}}]}}]}  # fmt: skip
    assert nft.parse_counters("clients", json.dumps(listing)) == {
        ("clients", "02:00:00:00:00:01 . 10.0.0.2"): 1234
    }
    assert nft.parse_counters("down4", '{"nftables": [{"set": {"name": "down4"}}]}') == {}
