"""Delivering spooled records to the controller in order, shared by both agents.

Standard library only (the endpoint agent imports it).
"""

import logging
from collections.abc import Callable

from agents.common.client import Client, NotController, Rejected, Unreachable
from agents.common.spool import Spool

log = logging.getLogger("telecentre-agent")
HEARTBEAT_PATH = "/api/agent/v1/heartbeat"


def deliver(client: Client, spool: Spool, on_answer: Callable[[dict], None]) -> bool:
    """Send pending records in order, 100 at a time; stop at the first failure (they stay).

    on_answer sees every acknowledged answer (interval, commands, inventory_wanted).
    """
    while records := spool.pending(limit=100):
        payload = {"records": [{"seq": r.seq, "kind": r.kind, "body": r.body} for r in records]}
        try:
            answer = client.post(HEARTBEAT_PATH, payload)
        except (Unreachable, NotController) as exc:
            log.warning("controller not reachable, %d records kept: %s", len(spool), exc)
            return False
        except Rejected as exc:
            log.error("controller refused the records: %s", exc)
            return False
        spool.acknowledge(int(answer.get("ack", 0)))
        on_answer(answer)
        if int(answer.get("ack", 0)) < records[-1].seq:
            log.error("controller acknowledged only up to %s", answer.get("ack"))
            return False
    return True
