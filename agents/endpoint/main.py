"""`telecentre-agent`: enrol a telecentre PC or infomat, then heartbeat to the controller.

Standard library only. State lives in --state-dir (default /var/lib/telecentre-agent):
identity.json (mode 0600: device id, secret, controller) and spool/ (records not yet
acknowledged). Settings come from /etc/telecentre-agent.conf ([agent] section), then
TELECENTRE_AGENT_* environment variables, then the command line.
"""

import argparse
import configparser
import json
import logging
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

from agents.common import delivery
from agents.common.client import (
    Client,
    ControllerError,
    Identity,
    enroll,
)  # fmt: skip
from agents.common.spool import Spool, write_atomically
from agents.endpoint import commands, facts, kiosk

VERSION = "0.1.0"
DEFAULT_STATE_DIR = "/var/lib/telecentre-agent"
CONFIG_FILE = "/etc/telecentre-agent.conf"
log = logging.getLogger("telecentre-agent")


def read_config(path: str = CONFIG_FILE) -> configparser.ConfigParser:
    """The config file (missing is fine: everything has a default)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser


def settings(parser: configparser.ConfigParser) -> dict[str, str]:
    """The config file's [agent] section overlaid with TELECENTRE_AGENT_* variables."""
    values = dict(parser["agent"]) if parser.has_section("agent") else {}
    prefix = "TELECENTRE_AGENT_"
    values.update(
        {k[len(prefix) :].lower(): v for k, v in os.environ.items() if k.startswith(prefix)}
    )
    return values


def _identity_path(state_dir: Path) -> Path:
    return state_dir / "identity.json"


def load_identity(state_dir: Path) -> Identity:
    """The enrolled identity, or SystemExit with a clear message."""
    try:
        data = json.loads(_identity_path(state_dir).read_text())
        return Identity(data["controller_url"], data["controller_id"], int(data["device_id"]),
                        data["secret"])  # fmt: skip
    except FileNotFoundError:
        raise SystemExit(
            f"not enrolled: run `telecentre-agent enroll` (state in {state_dir})"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise SystemExit(f"{_identity_path(state_dir)} is damaged: enrol again") from None


def cmd_enroll(args, conf: dict) -> int:
    """Exchange the token for an identity and store it with owner-only permissions."""
    state_dir = Path(args.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    kind = conf.get("kind", "pc")
    about = {"hostname": facts.inventory()["hostname"], "mac": facts.primary_mac(),
             "kind": kind, "os": facts.os_name(), "agent_version": VERSION}  # fmt: skip
    try:
        identity = enroll(args.controller, args.token, about)
    except ControllerError as exc:
        log.error("enrolment failed: %s", exc)
        return 2
    data = json.dumps(identity.__dict__, indent=1).encode()
    write_atomically(_identity_path(state_dir), data, mode=0o600)
    log.info("enrolled as device %s with %s", identity.device_id, identity.controller_url)
    print(f"Enrolled as device {identity.device_id}.")
    return 0


class Agent:
    """The heartbeat loop: spool first, then deliver in order until the spool is empty."""

    def __init__(
        self, identity: Identity, state_dir: Path, interval: float, config=None, collect=None
    ) -> None:
        config = config or configparser.ConfigParser()
        # What a heartbeat says: the real machine's facts, or a simulated device's.
        self.collect = collect or (
            lambda with_inventory: facts.heartbeat(self.cpu, VERSION, with_inventory)
        )
        self.client = Client(identity)
        self.spool = Spool(state_dir / "spool")
        self.ledger = commands.Ledger(state_dir / "commands_started.json")
        self.command_lines = dict(config["commands"]) if config.has_section("commands") else {}
        self.scripts = dict(config["scripts"]) if config.has_section("scripts") else {}
        self.timeout = float(settings(config).get("command_timeout", 1800))
        self.watchdog, self.sessions = self._kiosk(config)
        self.interval = interval
        self.cpu = facts.CpuMeter()
        self.send_inventory = True  # the first heartbeat after a start carries it
        self.stop = threading.Event()

    def _kiosk(self, config) -> tuple:
        """The watchdog and session counter of an infomat ([kiosk] section), or (None, None)."""
        if not config.has_section("kiosk"):
            return None, None
        section = config["kiosk"]
        restart = lambda: commands.execute(  # noqa: E731 - a callback, named by its use
            commands.argv_for({"kind": "restart_kiosk"}, self.command_lines, self.scripts),
            self.timeout,
        )  # fmt: skip
        watchdog = kiosk.Watchdog(section.get("process", ""), section.get("url", ""), restart)
        pattern = section.get("input", "/dev/input/event*")
        paths = sorted(str(p) for p in Path("/").glob(pattern.lstrip("/")))
        sessions = kiosk.Sessions(paths, float(section.get("idle_gap", 60)))
        sessions.start()
        return watchdog, sessions

    def tick(self) -> bool:
        """Spool one heartbeat (and usage) and deliver what is pending; True when all arrived."""
        if self.sessions is not None and (count := self.sessions.take()):
            self.spool.append("usage", {"interaction_sessions": count, "at": time.time()})
        beat = self.collect(self.send_inventory)
        if self.watchdog is not None:
            beat["kiosk"] = self.watchdog.check()
        self.spool.append("heartbeat", beat)
        self.send_inventory = False
        return self.deliver()

    def deliver(self) -> bool:
        """Send pending records in order; stops at the first failure (they stay spooled)."""
        return delivery.deliver(self.client, self.spool, self._answered)

    def _answered(self, answer: dict) -> None:
        self.send_inventory = self.send_inventory or bool(answer.get("inventory_wanted"))
        self.interval = float(answer.get("interval") or self.interval)
        for command in answer.get("commands") or []:
            self.run_command(command)

    def run_command(self, command: dict) -> None:
        """Run a command once (by uid) and spool its result for the next delivery."""
        uid = str(command.get("uid", ""))
        if not uid or not self.ledger.claim(uid):
            return  # handed again because our earlier answer was lost: never twice
        try:
            argv = commands.argv_for(command, self.command_lines, self.scripts)
        except ValueError as exc:
            log.warning("command %s refused: %s", uid, exc)
            self.spool.append("result", {"uid": uid, "exit_code": 126, "output": str(exc)})
            return
        log.info("running command %s (%s)", uid, command.get("kind"))
        if command.get("kind") == "screenshot":
            self.spool.append("result", {"uid": uid, **self._screenshot(uid, argv)})
            return
        if command.get("kind") in commands.REPORT_FIRST:
            self.spool.append("result", {"uid": uid, "exit_code": 0, "output": "started"})
            self.deliver()
        code, output, seconds = commands.execute(argv, self.timeout)
        if command.get("kind") not in commands.REPORT_FIRST:
            self.spool.append("result", {"uid": uid, "exit_code": code, "output": output,
                                         "duration_s": seconds})  # fmt: skip

    def _screenshot(self, uid: str, argv: list[str]) -> dict:
        started = time.monotonic()
        code, png, error = commands.capture(argv, min(self.timeout, 60))
        if code != 0 or not png:
            return {"exit_code": code or 1, "output": error or "no image"}
        try:
            self.client.post_bytes(f"/api/agent/v1/screenshots/{uid}", png, "image/png")
        except ControllerError as exc:
            return {"exit_code": 75, "output": f"screenshot taken but not uploaded: {exc}"}
        return {"exit_code": 0, "output": f"screenshot uploaded ({len(png)} bytes)",
                "duration_s": round(time.monotonic() - started, 3)}  # fmt: skip

    def run(self, start_delay: float, once: bool = False) -> None:
        """Heartbeat every interval (± 10 % jitter), with growing pauses while unreachable."""
        self.stop.wait(start_delay)
        failures = 0
        while not self.stop.is_set():
            ok = self.tick()
            if once:
                return
            failures = 0 if ok else failures + 1
            pause = self.interval if ok else min(self.interval * 2 ** min(failures, 4), 600)
            self.stop.wait(pause * random.uniform(0.9, 1.1))  # noqa: S311 - jitter, not crypto


def cmd_run(args, conf: dict) -> int:
    """Run until SIGTERM/SIGINT."""
    state_dir = Path(args.state_dir)
    agent = Agent(load_identity(state_dir), state_dir, float(args.interval), args.config)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: agent.stop.set())
    delay = float(conf.get("start_delay", random.uniform(0, min(agent.interval, 30))))  # noqa: S311
    agent.run(0.0 if args.once else delay, once=args.once)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    config = read_config(os.environ.get("TELECENTRE_AGENT_CONFIG", CONFIG_FILE))
    conf = settings(config)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        default=conf.get("state_dir", DEFAULT_STATE_DIR),
        help=f"where identity and spool live (default {DEFAULT_STATE_DIR})",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser = argparse.ArgumentParser(prog="telecentre-agent", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_enroll = sub.add_parser("enroll", parents=[common], help="join an office with a token")
    p_enroll.add_argument("--controller", required=True, help="controller URL, https://…")
    p_enroll.add_argument("--token", required=True, help="office enrolment token (tce_…)")
    p_run = sub.add_parser("run", parents=[common], help="heartbeat until stopped")
    p_run.add_argument("--interval", type=float, default=float(conf.get("interval", 30)))
    p_run.add_argument("--once", action="store_true", help="one heartbeat, then exit")
    args = parser.parse_args(argv)
    args.config = config
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")  # fmt: skip
    handler = cmd_enroll if args.command == "enroll" else cmd_run
    return handler(args, conf)


if __name__ == "__main__":
    sys.exit(main())
