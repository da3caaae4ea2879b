"""`telecentre-agent`: enrol a telecentre PC or infomat, then heartbeat to the controller.

Standard library only. State lives in --state-dir (default /var/lib/telecentre-agent):
identity.json (mode 0600: device id, secret, controller) and spool/ (records not yet
acknowledged). Settings come from /etc/telecentre-agent.conf ([agent] section), then
TELECENTRE_AGENT_* environment variables, then the command line.
"""

import configparser
import logging
import os
import queue
import random
import signal
import sys
import threading
import time
from pathlib import Path

from agents.common import daemon, delivery
from agents.common.client import Client, ControllerError, Identity
from agents.common.spool import Spool
from agents.endpoint import commands, facts, kiosk
from agents.endpoint.pcusage import PcSessions

VERSION = "0.1.0"
DEFAULT_STATE_DIR = "/var/lib/telecentre-agent"
CONFIG_FILE = "/etc/telecentre-agent.conf"
log = logging.getLogger("telecentre-agent")


def read_config(path: str = CONFIG_FILE) -> configparser.ConfigParser:
    """The config file (missing is fine: everything has a default)."""
    return daemon.read_config(path)


def settings(config: configparser.ConfigParser) -> dict[str, str]:
    """The config file's [agent] section overlaid with TELECENTRE_AGENT_* variables."""
    return daemon.settings(config, "agent", "TELECENTRE_AGENT_")


def load_identity(state_dir: Path) -> Identity:
    """The enrolled identity, or SystemExit with a clear message."""
    identity = daemon.load_identity(state_dir)
    if identity is None:
        raise SystemExit(f"not enrolled: run `telecentre-agent enroll` (state in {state_dir})")
    return identity


def cmd_enroll(args, conf: dict) -> int:
    """Exchange the token for an identity and store it with owner-only permissions."""
    about = {
        "hostname": facts.inventory()["hostname"],
        "mac": facts.primary_mac(),
        "kind": conf.get("kind", "pc"),
        "os": facts.os_name(),
        "agent_version": VERSION,
    }
    return daemon.enrol(Path(args.state_dir), args.controller, args.token, about, log)


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
        # Telecentre PCs count login sessions for the reports (infomats count touches).
        is_pc = settings(config).get("kind", "pc") == "pc"
        self.logins = PcSessions(state_dir / "pc_sessions.json",
                                 max(3 * interval, 300)) if is_pc else None  # fmt: skip
        self.cpu = facts.CpuMeter()
        self.send_inventory = True  # the first heartbeat after a start carries it
        self.stop = threading.Event()
        # Commands run one after another beside the heartbeat loop: an hour of `apt upgrade`
        # must not look like a device gone offline.
        self.work: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None  # started with the first command

    def _work_loop(self) -> None:
        while True:
            job = self.work.get()
            try:
                job()
            except Exception:  # one failed command must not stop the next ones
                log.exception("command failed")
            finally:
                self.work.task_done()

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
        if self.logins is not None and (
            count := self.logins.observe(beat.get("user"), time.time())
        ):
            self.spool.append("usage", count)
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
            commands.execute(argv, self.timeout)
            return

        def execute() -> None:
            code, output, seconds = commands.execute(argv, self.timeout)
            self.spool.append("result", {"uid": uid, "exit_code": code, "output": output,
                                         "duration_s": seconds})  # fmt: skip

        if self._worker is None:
            self._worker = threading.Thread(target=self._work_loop, name="commands", daemon=True)
            self._worker.start()
        self.work.put(execute)  # its result goes with the first heartbeat after it ends

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
                self.work.join()  # the commands this heartbeat brought, and their results
                self.deliver()
                return
            failures = 0 if ok else failures + 1
            pause = self.interval if ok else min(self.interval * 2 ** min(failures, 4), 600)
            self.stop.wait(pause * random.uniform(0.9, 1.1))  # noqa: S311 - jitter, not crypto
        self.work.join()  # a command under way ends and spools its result before we stop


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
    parser, p_run = daemon.command_line(
        "telecentre-agent", __doc__, conf, DEFAULT_STATE_DIR,
        "where identity and spool live", "heartbeat until stopped",
    )  # fmt: skip
    p_run.add_argument("--interval", type=float, default=float(conf.get("interval", 30)))
    p_run.add_argument("--once", action="store_true", help="one heartbeat, then exit")
    args = parser.parse_args(argv)
    args.config = config
    return daemon.start(args, cmd_enroll, cmd_run, conf)


if __name__ == "__main__":
    sys.exit(main())
