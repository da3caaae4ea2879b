"""Staged rollout: a command goes to canary devices first, then to the rest in waves.

Nothing more is sent once a canary fails, or once the failure rate so far crosses the
threshold; a device that gives no result in time counts as failed.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from controller.extensions import db
from controller.fleet.models import Command, CommandState

WAITING = (CommandState.QUEUED, CommandState.SENT)


@dataclass
class Plan:
    """Which devices go first and how the rest are split."""

    canaries: list[int]
    rest: list[int]
    wave_size: int = 10
    max_failure_percent: int = 10

    @classmethod
    def of(cls, args: dict, devices: list[int]) -> "Plan":
        """The plan for a schedule's args and the ids of its devices (in a stable order)."""
        wanted = set(args.get("canary_ids") or [])
        canaries = ([d for d in devices if d in wanted] if wanted
                    else devices[: args.get("canary_count", 1)])  # fmt: skip
        chosen = set(canaries)
        return cls(canaries, [d for d in devices if d not in chosen],
                   args.get("wave_size", 10), args.get("max_failure_percent", 10))  # fmt: skip

    def waves(self) -> list[list[int]]:
        """The devices after the canaries, wave by wave."""
        size = max(1, self.wave_size)
        return [self.rest[i : i + size] for i in range(0, len(self.rest), size)]


@dataclass
class RolloutOutcome:
    """How the rollout ended."""

    outcome: str  # ok | halted | skipped
    message: str
    details: dict = field(default_factory=dict)


def wait_for(batch: str, timeout_s: float, poll_s: float, sleep=time.sleep) -> tuple[int, int]:
    """Wait until every command of the batch has a result (or time runs out): (ok, failed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = list(db.session.scalars(select(Command.state).where(Command.batch == batch)))
        db.session.commit()  # end the read, so the next poll sees results that came meanwhile
        if all(s not in WAITING for s in found) or time.monotonic() >= deadline:
            ok = sum(s == CommandState.DONE for s in found)
            return ok, len(found) - ok
        sleep(poll_s)


def run(
    plan: Plan,
    send: Callable[[list[int]], Any],
    *,
    timeout_s: float,
    poll_s: float,
    sleep=time.sleep,
    wait: Callable[[Any], tuple[int, int]] | None = None,
) -> RolloutOutcome:
    """Carry out the plan; send(device ids) starts the command and returns what wait(it)
    turns into (ok, failed) — by default an agent command batch, waited for by polling."""
    if wait is None:
        wait = lambda batch: wait_for(batch, timeout_s, poll_s, sleep)  # noqa: E731
    if not plan.canaries:
        if plan.rest:  # canary ids given, none of them among the devices: never roll out blind
            return RolloutOutcome("halted", "none of the canary devices can take the command; "
                                  "nothing was sent")  # fmt: skip
        return RolloutOutcome("skipped", "no device to roll out to")
    batches = [send(plan.canaries)]
    ok, failed = wait(batches[0])
    details = {"batches": batches, "canaries": len(plan.canaries), "sent": ok + failed,
               "ok": ok, "failed": failed}  # fmt: skip
    if failed:
        return RolloutOutcome("halted", f"{failed} of {ok + failed} canary devices failed; "
                              "nothing more was sent", details)  # fmt: skip
    for wave in plan.waves():
        batches.append(send(wave))
        wave_ok, wave_failed = wait(batches[-1])
        details.update(sent=details["sent"] + wave_ok + wave_failed, ok=details["ok"] + wave_ok,
                       failed=details["failed"] + wave_failed)  # fmt: skip
        rate = 100 * details["failed"] / details["sent"]
        if rate > plan.max_failure_percent:
            left = sum(len(w) for w in plan.waves()) - (details["sent"] - details["canaries"])
            return RolloutOutcome("halted", f"{details['failed']} of {details['sent']} devices "
                                  f"failed ({rate:.0f} % > {plan.max_failure_percent} %); "
                                  f"{left} devices were not sent the command", details)  # fmt: skip
    return RolloutOutcome("ok", f"{details['ok']} of {details['sent']} devices done", details)
