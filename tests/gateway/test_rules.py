"""Ruleset text, element commands and counter parsing (no kernel needed)."""

import pytest

from agents.gateway import nft


def net(**kw) -> nft.Network:
    return nft.Network(**{"lan_if": "br0", "wan_if": "wan0", "portal_port": 8080, **kw})


def test_ruleset_replaces_one_inet_table_atomically():
    text = nft.ruleset(net())
    assert text.startswith("table inet telecentre {}\ndelete table inet telecentre\n")
    assert text.count("table inet telecentre {\n") == 1
    assert "map clients { type ether_addr . ipv4_addr : mark; flags timeout; counter; }" in text
    assert "map clients6 { type ether_addr . ipv6_addr : mark; flags timeout; counter; }" in text
    assert "map down4 { type ipv4_addr : verdict; flags timeout; counter; }" in text
    assert "policy drop" in text  # forward: deny by default, IPv6 included (inet)
    assert "tcp dport 80 fib daddr type != local redirect to :8080" in text


def test_a_forwarded_packet_is_looked_up_in_one_client_map_each_way():
    text = nft.ruleset(net())
    forward = text[text.index("chain lan_forward") :]
    forward = forward[: forward.index("}")]
    assert 'iifname "br0" oifname "wan0" meta mark vmap @up_tiers' in forward
    assert "ip daddr vmap @down4" in forward and "ip6 daddr vmap @down6" in forward
    for per_client in ("clients", "down4", "down6"):  # each named once in the whole table
        assert text.count(f"@{per_client}\n") == 1
    assert "rate_" not in text  # no second per-client map (rates come with the mark/verdict)


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
    assert "add element inet telecentre up_tiers { 0x7e1000fa : goto up_250 }" in commands
    assert "add rule" not in nft.add_commands(client, {("up", 250), ("down", 1000)})


@pytest.mark.parametrize("name", ["br0; flush ruleset", 'a"b', "x" * 16, ""])
def test_interface_names_cannot_inject_nft_syntax(name):
    with pytest.raises(ValueError):
        nft.ruleset(net(lan_if=name))


def test_client_elements_carry_the_timeout_and_rate_tiers():
    client = nft.Client("02:00:00:00:00:01", "10.0.0.2", ["fd00::2"], 90, 16000, None)
    text = nft.add_commands(client, set())
    mark = "0x7e100000"  # authorised, no upload tier
    add = "add element inet telecentre"
    assert f"{add} clients {{ 02:00:00:00:00:01 . 10.0.0.2 timeout 90s : {mark} }}" in text
    assert f"{add} clients6 {{ 02:00:00:00:00:01 . fd00::2 timeout 90s : {mark} }}" in text
    assert "add element inet telecentre down4 { 10.0.0.2 timeout 90s : goto down_2000 }" in text
    assert "add element inet telecentre down6 { fd00::2 timeout 90s : goto down_2000 }" in text
    assert "up_tiers" not in text  # no upload limit granted
    assert "limit rate over 2000 kbytes/second" in text
    assert "add rule inet telecentre down_2000 accept" in text  # entered by goto
    limited = nft.Client("02:00:00:00:00:01", "10.0.0.2", [], 90, None, 800)
    assert ". 10.0.0.2 timeout 90s : 0x7e100064 }" in nft.add_commands(limited, set())


def test_delete_is_idempotent_by_adding_first():
    client = nft.Client("02:00:00:00:00:01", "10.0.0.2", [], 5, None, None)
    lines = nft.delete_commands(client).splitlines()
    assert lines == [
        "add element inet telecentre clients { 02:00:00:00:00:01 . 10.0.0.2 timeout 5s"
        " : 0x7e100000 }",
        "delete element inet telecentre clients { 02:00:00:00:00:01 . 10.0.0.2 }",
        "add element inet telecentre down4 { 10.0.0.2 timeout 5s : accept }",
        "delete element inet telecentre down4 { 10.0.0.2 }",
    ]
