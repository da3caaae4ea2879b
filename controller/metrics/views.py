"""GET /metrics for Prometheus: web-tier counters plus the fleet gauges read at scrape time.

Staff sign-ins and API tokens do not open it. A scraper shows the metrics token
(`Authorization: Bearer …`: METRICS_TOKEN, or the one `telecentre metrics token` made) or comes
from an address in METRICS_ALLOW (the address after PROXY_FIX_X_FOR: behind nginx without it,
every client would look like the proxy). With neither configured every scrape is refused.
"""

import hashlib
import hmac
import ipaddress
import os
import re
from pathlib import Path

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext as _
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

from controller.api.core import error_response
from controller.extensions import csrf, db, limiter
from controller.metrics.collector import collect
from controller.metrics.exposition import render

bp = Blueprint("metrics", __name__)
csrf.exempt(bp)
limiter.exempt(bp)
TOKEN_HASH_FILE = "metrics_token.sha256"  # noqa: S105 - a file name, not a secret


@bp.get("/metrics")
def metrics():
    """The Prometheus text exposition (version 0.0.4)."""
    refusal = _refusal()
    if refusal is not None:
        return refusal
    body = generate_latest(_web_registry())
    try:
        body += render(collect(db.session, disk_floor=current_app.config["METRICS_DISK_FLOOR"]))
    finally:
        db.session.rollback()  # a read only: end the transaction before the next scrape
    return Response(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)


def _web_registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # every worker's counters, summed
        return registry
    return REGISTRY


def _refusal():
    """None when the scrape may proceed, else the 401/403 answer (JSON, never the metrics)."""
    hashes = token_hashes(current_app)
    header = request.headers.get("Authorization", "")
    scheme, _sep, given = header.partition(" ")
    if hashes and scheme.lower() == "bearer" and given.strip():
        digest = hashlib.sha256(given.strip().encode()).hexdigest()
        if any(hmac.compare_digest(digest, known) for known in hashes):
            return None
    if _address_allowed(request.remote_addr, current_app.extensions[ALLOWED]):
        return None
    if hashes:
        return error_response(
            401, "unauthorized", _("A valid metrics token is required (Authorization: Bearer …).")
        )
    return error_response(
        403,
        "forbidden",
        _("Metrics are not open to this address; set a metrics token or METRICS_ALLOW."),
    )


def token_hashes(app) -> list[str]:
    """SHA-256 (hex) of every accepted metrics token: the configured one and the CLI's one."""
    hashes = []
    if app.config.get("METRICS_TOKEN"):
        hashes.append(hashlib.sha256(str(app.config["METRICS_TOKEN"]).encode()).hexdigest())
    path = Path(app.instance_path) / TOKEN_HASH_FILE
    if path.is_file():  # anything but a SHA-256 in hex (a damaged file) matches nothing
        hashes += [line for line in path.read_text(errors="replace").split() if _HEX64.match(line)]
    return hashes


ALLOWED = "metrics_allow"  # app.extensions key: METRICS_ALLOW parsed once, at start-up
_HEX64 = re.compile(r"[0-9a-f]{64}")


def allow_list(value) -> list:
    """METRICS_ALLOW as networks: a list, or a string separated by commas or spaces.

    ValueError, with the reason, when an item is not a network (or the value not a list).
    """
    if isinstance(value, str):
        items = value.replace(",", " ").split()
    elif isinstance(value, list | tuple) or not value:
        items = list(value or ())
    else:
        raise ValueError(f"expected networks, got {value!r}")
    return [ipaddress.ip_network(str(item).strip(), strict=False) for item in items]


def _address_allowed(address: str | None, networks: list) -> bool:
    if not networks or not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:10.1.2.3 on a dual-stack socket
    return any(ip in net for net in networks)
