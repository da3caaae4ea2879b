#!/usr/bin/env python3
"""Ansible dynamic inventory from the Telecentre controller's `/api/v1` (standard library only).

Ansible runs it with `--list` (or `--host NAME`). It reads every office and device the API
token may see and prints groups per office (`office_<name>`), per kind (`kind_pc`, …), per
tag (`tag_<tag>`) and per role (`telecentre_endpoints`: PCs and infomats run by the agent,
`telecentre_gateways`: hotspot gateways), with each device's fields as host variables.

Settings come from the environment:

    TELECENTRE_URL              the controller, https://controller.example (required)
    TELECENTRE_API_TOKEN        an API token (tc_…), or
    TELECENTRE_API_TOKEN_FILE   a file holding it (required: one of the two)
    TELECENTRE_CA_FILE          a CA bundle for a controller with its own certificate
    TELECENTRE_INVENTORY_TIMEOUT  seconds per request (default 10)

Retired devices and devices managed by nothing are left out (and counted on stderr). Any
other failure — no token, a controller that cannot be reached or refuses the token, a
device without an address — is said on stderr with exit status 1: never a partial inventory.
"""

import argparse
import json
import os
import re
import ssl
import sys
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

PER_PAGE = 200
# Groups the playbooks target: (kinds, ways of management) of their hosts.
ROLE_GROUPS = {
    "telecentre_endpoints": (("pc", "infomat"), ("agent",)),
    "telecentre_gateways": (("gateway",), ("agent", "ssh")),
}
# What Polish names need beyond stripping accents (ł has no decomposition).
_LETTERS = str.maketrans({"ł": "l", "Ł": "L"})


class InventoryError(Exception):
    """What went wrong, in words for the admin running Ansible."""


class Api:
    """A small client of the controller's JSON API with a bearer token."""

    def __init__(self, url: str, token: str, timeout: float, cafile: str | None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=cafile) if cafile else None

    def get(self, path: str, **query) -> dict:
        """One GET of /api/v1; the decoded JSON object, or InventoryError saying why not."""
        url = f"{self.url}/api/v1{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in settings()
            url, headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(  # noqa: S310 - http(s) only, checked in settings()
                request, timeout=self.timeout, context=self.context
            ) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise InventoryError(_refusal(url, exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise InventoryError(f"cannot reach the controller at {self.url}: {reason}") from None
        try:
            data = json.loads(body)
        except ValueError:
            raise InventoryError(
                f"{url} did not answer with JSON: is TELECENTRE_URL the controller?"
            ) from None
        if not isinstance(data, dict):
            raise InventoryError(f"{url} answered with something other than a JSON object")
        return data

    def all(self, path: str) -> list[dict]:
        """Every item of a paginated list, page by page."""
        items: list[dict] = []
        page = 1
        while True:
            data = self.get(path, page=page, per_page=PER_PAGE)
            if not isinstance(data.get("items"), list) or not isinstance(data.get("pages"), int):
                raise InventoryError(f"{self.url}/api/v1{path} is not a list of the controller")
            items.extend(data["items"])
            if page >= data["pages"]:
                return items
            page += 1


def _refusal(url: str, exc: urllib.error.HTTPError) -> str:
    try:
        message = json.loads(exc.read())["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = exc.reason
    if exc.code == 401:
        return f"the controller refused the API token (401: {message}); make a new one"
    if exc.code == 403:
        return f"the API token may not read the inventory (403: {message})"
    return f"{url} answered {exc.code}: {message}"


def settings(environ: dict) -> Api:
    """The API client the environment describes, or InventoryError naming what is missing."""
    url = environ.get("TELECENTRE_URL", "").strip()
    if not url:
        raise InventoryError("TELECENTRE_URL is not set (the controller, https://…)")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise InventoryError(f"TELECENTRE_URL must start with https:// (got {url!r})")
    token = environ.get("TELECENTRE_API_TOKEN", "").strip()
    token_file = environ.get("TELECENTRE_API_TOKEN_FILE", "").strip()
    if not token and token_file:
        try:
            with open(token_file, encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as exc:
            raise InventoryError(f"cannot read TELECENTRE_API_TOKEN_FILE: {exc}") from None
    if not token:
        raise InventoryError(
            "no API token: set TELECENTRE_API_TOKEN or TELECENTRE_API_TOKEN_FILE "
            "(make one with `telecentre token create` or on your account page)"
        )
    try:
        timeout = float(environ.get("TELECENTRE_INVENTORY_TIMEOUT", "10"))
    except ValueError:
        raise InventoryError("TELECENTRE_INVENTORY_TIMEOUT must be a number of seconds") from None
    return Api(url, token, timeout, environ.get("TELECENTRE_CA_FILE") or None)


def slug(text: str) -> str:
    """A group-name-safe form of a name: ASCII letters, digits and underscores."""
    ascii_text = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    ascii_text = ascii_text.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_") or "unnamed"


def _office_groups(offices: list[dict]) -> dict[int, str]:
    """Office id → group name; a slug two offices share gets their ids appended."""
    names = {office["id"]: f"office_{slug(office['name'])}" for office in offices}
    taken = Counter(names.values())
    return {oid: f"{name}_{oid}" if taken[name] > 1 else name for oid, name in names.items()}


def _host_name(device: dict, hostnames: Counter) -> str:
    hostname = device["hostname"]
    if hostname and hostnames[hostname] == 1:
        return hostname
    return f"{slug(device['name']).replace('_', '-')}-{device['id']}"


def _host_vars(device: dict, office: dict, ssh: dict | None) -> dict:
    hostvars = {
        "ansible_host": device["ip"] or device["hostname"],
        "telecentre_device_id": device["id"],
        "telecentre_office_id": office["id"],
        "telecentre_office_name": office["name"],
        "telecentre_office_teryt": office.get("teryt"),
        "telecentre_timezone": office.get("timezone"),
    }
    for field in ("name", "kind", "hostname", "ip", "mac", "serial_number", "location", "tags",
                  "management", "state", "approved"):  # fmt: skip
        hostvars[f"telecentre_{field}"] = device.get(field)
    if ssh:
        hostvars["ansible_host"] = ssh["host"] or hostvars["ansible_host"]
        hostvars["ansible_port"] = ssh["port"]
        hostvars["ansible_user"] = ssh["username"]
        hostvars["telecentre_ssh_host_key"] = ssh.get("host_key")
    return hostvars


def build(api: Api) -> dict:
    """The whole inventory in Ansible's `--list` JSON shape."""
    offices = {office["id"]: office for office in api.all("/offices")}
    devices = api.all("/devices")
    groups = _office_groups(list(offices.values()))
    managed = [d for d in devices if d["state"] != "retired" and d["management"] != "none"]
    if len(managed) < len(devices):
        print(f"telecentre inventory: left out {len(devices) - len(managed)} retired or "
              "unmanaged device(s)", file=sys.stderr)  # fmt: skip
    devices = managed
    ssh = {d["id"]: api.get(f"/devices/{d['id']}/ssh") for d in devices if d["management"] == "ssh"}
    missing = [
        d for d in devices if not (d["ip"] or d["hostname"] or ssh.get(d["id"], {}).get("host"))
    ]
    if missing:
        listed = ", ".join(f"{d['name']} (id {d['id']}, {d['office']['name']})" for d in missing)
        raise InventoryError(
            f"{len(missing)} device(s) have neither an IP address nor a host name, so Ansible "
            f"cannot reach them: {listed}. Set one on the device's page, or retire it."
        )
    inventory: dict = {"_meta": {"hostvars": {}}, "all": {"children": ["ungrouped"]}}

    def add(group: str, host: str) -> None:
        entry = inventory.setdefault(group, {"hosts": []})
        entry["hosts"].append(host)
        if group not in inventory["all"]["children"]:
            inventory["all"]["children"].append(group)

    hostnames = Counter(d["hostname"] for d in devices)
    for device in devices:
        office = offices.get(device["office"]["id"], device["office"])
        host = _host_name(device, hostnames)
        inventory["_meta"]["hostvars"][host] = _host_vars(device, office, ssh.get(device["id"]))
        add(groups.get(office["id"], f"office_{office['id']}"), host)
        add(f"kind_{device['kind']}", host)
        add(f"management_{device['management']}", host)
        for tag in device["tags"]:
            add(f"tag_{slug(tag)}", host)
        for role, (kinds, managements) in ROLE_GROUPS.items():
            if device["kind"] in kinds and device["management"] in managements:
                add(role, host)
    for oid, group in groups.items():
        entry = inventory.setdefault(group, {"hosts": []})
        entry["vars"] = {
            "telecentre_office_id": oid,
            "telecentre_office_name": offices[oid]["name"],
        }
        if group not in inventory["all"]["children"]:
            inventory["all"]["children"].append(group)
    return inventory


def main(argv: list[str] | None = None, environ: dict | None = None) -> int:
    """Print the inventory (or one host's variables) as JSON; 1 with a message on failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--list", action="store_true", help="the whole inventory")
    mode.add_argument("--host", help="one host's variables")
    args = parser.parse_args(argv)
    try:
        inventory = build(settings(os.environ if environ is None else environ))
    except InventoryError as exc:
        print(f"telecentre inventory: {exc}", file=sys.stderr)
        return 1
    if args.host is not None:
        hostvars = inventory["_meta"]["hostvars"]
        if args.host not in hostvars:
            print(f"telecentre inventory: no host {args.host!r}", file=sys.stderr)
            return 1
        inventory = hostvars[args.host]
    json.dump(inventory, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
