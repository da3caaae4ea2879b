"""The gateway's conversation with the controller: policy sync, heartbeats, commands."""

import logging
import os
import re
import shlex
import subprocess
import time
from dataclasses import replace
from pathlib import Path

from agents.common import delivery
from agents.common.client import ControllerError
from agents.common.spool import write_atomically
from agents.gateway.nft import TABLE

log = logging.getLogger("telecentre-gateway")
VERSION = "0.1.0"


def sync(gateway, reload: bool = True) -> bool:
    """Fetch the policy and vouchers when they changed; True when the controller answered.

    The walled garden always follows the cached policy, answered or not (after a restart the
    controller sends no policy while the gateway's copy is current); with reload, a changed
    garden reloads the table in one transaction that keeps the live sessions.
    """
    answered = False
    if gateway.client is not None:
        try:
            gateway.cache.update(
                gateway.client.post("/api/portal/v1/sync", gateway.cache.versions())
            )
            answered = True
        except ControllerError as exc:
            log.warning("policy sync failed, keeping the cache: %s", exc)
        gateway.metrics.controller_reachable = answered
    garden = ((gateway.cache.policy or {}).get("walled_garden") or {}).get("cidrs") or []
    wanted = replace(gateway.net, garden_v4=tuple(c for c in garden if ":" not in c),
                     garden_v6=tuple(c for c in garden if ":" in c))  # fmt: skip
    if wanted != gateway.net:
        gateway.net = wanted
        if reload:
            gateway.start()
    return answered


_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63}$")


def garden_conf(hosts: list[str]) -> str:
    """dnsmasq lines that put every address resolved for the garden's hosts into its sets."""
    good = sorted({h.lower().strip(".") for h in hosts if _HOST.match(h.lower().strip("."))})
    if not good:
        return "# no walled-garden hosts\n"
    names = "/".join(good)
    return f"nftset=/{names}/4#inet#{TABLE}#garden4,6#inet#{TABLE}#garden6\n"


def write_garden(gateway, path: str | None, reload: str | None) -> bool:
    """Write dnsmasq's garden file from the cached policy; run reload when it changed."""
    if not path:
        return False
    text = garden_conf(((gateway.cache.policy or {}).get("walled_garden") or {}).get("hosts") or [])
    target = Path(path)
    if target.exists() and target.read_text() == text:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, text.encode(), mode=0o644)
    if reload:
        subprocess.run(shlex.split(reload), check=False, timeout=30)  # noqa: S603 - configuration
    return True


def heartbeat(gateway, started: float) -> bool:
    """Spool a heartbeat and deliver everything pending; True when all arrived."""
    if gateway.client is None:
        return False
    load = os.getloadavg()
    gateway.spool.append(
        "heartbeat",
        {  # the controller's heartbeat fields (controller/fleet/ingest.py), and the gateway's own
            "sent_at": time.time(),
            "uptime_s": int(time.monotonic() - started),
            "load": list(load),
            "agent_version": VERSION,
            "sessions_live": gateway.store.count_live(),
        },
    )
    delivered = delivery.deliver(gateway.client, gateway.spool, lambda a: _commands(gateway, a))
    gateway.metrics.controller_reachable = delivered
    return delivered


def _commands(gateway, answer: dict) -> None:
    for command in answer.get("commands") or []:
        uid = str(command.get("id") or command.get("uid") or "")
        if command.get("kind") != "end_session":
            gateway.spool.append(
                "result", {"uid": uid, "exit_code": 126, "output": "not a gateway command"}
            )
            continue
        session_id = str((command.get("args") or {}).get("session_id", ""))
        ended = gateway.end_session(session_id, "admin")
        output = "ended" if ended else "no such live session"
        gateway.spool.append("result", {"uid": uid, "exit_code": int(not ended), "output": output})
