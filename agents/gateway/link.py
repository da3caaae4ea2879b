"""The gateway's conversation with the controller: policy sync, heartbeats, commands."""

import logging
import os
import time
from dataclasses import replace

from agents.common import delivery
from agents.common.client import ControllerError

log = logging.getLogger("telecentre-gateway")
VERSION = "0.1.0"


def sync(gateway) -> bool:
    """Fetch the policy and vouchers when they changed; reload the table if the garden did."""
    if gateway.client is None:
        return False
    try:
        answer = gateway.client.post("/api/portal/v1/sync", gateway.cache.versions())
    except ControllerError as exc:
        log.warning("policy sync failed, keeping the cache: %s", exc)
        return False
    if gateway.cache.update(answer) and answer.get("policy") is not None:
        garden = (answer["policy"].get("walled_garden") or {}).get("cidrs") or []
        v4 = tuple(c for c in garden if ":" not in c)
        v6 = tuple(c for c in garden if ":" in c)
        if (v4, v6) != (gateway.net.garden_v4, gateway.net.garden_v6):
            gateway.net = replace(gateway.net, garden_v4=v4, garden_v6=v6)
            gateway.start()  # one transaction: new garden, live sessions kept
    return True


def heartbeat(gateway, started: float) -> bool:
    """Spool a heartbeat and deliver everything pending; True when all arrived."""
    if gateway.client is None:
        return False
    load = os.getloadavg()
    gateway.spool.append(
        "heartbeat",
        {
            "uptime": int(time.monotonic() - started),
            "load": list(load),
            "agent_version": VERSION,
            "sessions_live": len(gateway.store.live()),
        },
    )
    return delivery.deliver(gateway.client, gateway.spool, lambda a: _commands(gateway, a))


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
