"""`telecentre-gateway`: enrol a hotspot gateway, then enforce visitor sessions with nftables.

Runs as root. State lives in --state-dir (default /var/lib/telecentre-gateway):
identity.json (0600), policy.json (the cached policy and voucher hashes), sessions.db (live
and ended sessions), spool/ (records for the controller). Settings come from
/etc/telecentre-gateway.conf ([gateway] section), then TELECENTRE_GATEWAY_* variables.
"""

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from agents.common import daemon
from agents.gateway import api, discovery, link, metrics, nft
from agents.gateway.gateway import Gateway

DEFAULT_STATE_DIR = "/var/lib/telecentre-gateway"
CONFIG_FILE = "/etc/telecentre-gateway.conf"
HEARTBEAT_INTERVAL = 30.0  # seconds, as the endpoint agents
POLL_SHARE = 0.02  # the largest share of one core the counter poll may take
POLL_LONGEST = 60.0  # seconds: pacing never delays the idle and data-cap checks longer
log = logging.getLogger("telecentre-gateway")


def settings(path: str) -> dict[str, str]:
    """The [gateway] section of the config file overlaid with TELECENTRE_GATEWAY_* variables."""
    return daemon.settings(daemon.read_config(path), "gateway", "TELECENTRE_GATEWAY_")


def cmd_enroll(args, conf: dict) -> int:
    """Exchange the office token for an identity stored with owner-only permissions."""
    about = {"hostname": os.uname().nodename, "kind": "gateway", "mac": conf.get("mac", ""),
             "agent_version": link.VERSION}  # fmt: skip
    return daemon.enrol(Path(args.state_dir), args.controller, args.token, about, log)


def paced(interval: float, took: float, share: float, longest: float = POLL_LONGEST) -> float:
    """Seconds to wait before the next round: the interval, or longer when a round's CPU time
    would otherwise take more than `share` of a core (a poll of many sessions on a small
    gateway must not take the CPU that forwarding needs), but never longer than `longest`
    (nor shorter than the interval). share <= 0: always the interval."""
    if share <= 0:
        return interval
    return max(interval, min(took / share, longest))


def _every(
    stop: threading.Event, seconds: float, work, name: str, share: float = 0.0
) -> threading.Thread:
    def loop() -> None:
        wait = seconds
        while not stop.wait(wait):
            started = time.thread_time()
            try:
                work()
            except Exception:  # a loop must outlive one bad round; the log says why
                log.exception("%s failed", name)
            wait = paced(seconds, time.thread_time() - started, share)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread


def cmd_run(args, conf: dict) -> int:
    """Load the table, serve the portal's socket and run the loops until SIGTERM/SIGINT."""
    state_dir = Path(args.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    tls = conf.get("portal_tls_port")
    net = nft.Network(args.lan_if, args.wan_if, args.portal_port, int(tls) if tls else None)
    gateway = Gateway(state_dir, net, daemon.load_identity(state_dir))
    link.sync(gateway, reload=False)  # the first start below loads the garden with the table
    gateway.start()
    link.write_garden(gateway, conf.get("garden_file"), conf.get("garden_reload"))
    socket_path = Path(conf.get("socket", state_dir / "gateway.sock"))
    server = api.Server(
        socket_path, gateway, int(conf.get("socket_mode", "660"), 8), conf.get("socket_group")
    )
    threading.Thread(target=server.serve_forever, name="socket", daemon=True).start()
    address = conf.get("metrics_address", f":{metrics.DEFAULT_PORT}")
    scrape = metrics.serve(address, gateway, link.VERSION) if address else None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    started = time.monotonic()
    share = float(conf.get("poll_share", POLL_SHARE))
    _every(stop, float(conf.get("poll_interval", 5)), gateway.poll, "poll", share)

    def sync_round() -> None:
        link.sync(gateway)
        link.write_garden(gateway, conf.get("garden_file"), conf.get("garden_reload"))
        gateway.store.prune(time.time())

    # Heartbeats carry staff's commands (end_session) and the spooled records: on their own,
    # shorter clock, so a slow or long sync interval never delays them.
    _every(stop, float(conf.get("sync_interval", 60)), sync_round, "sync")
    _every(
        stop,
        float(conf.get("heartbeat_interval", HEARTBEAT_INTERVAL)),
        lambda: link.heartbeat(gateway, started),
        "heartbeat",
    )
    sweep = float(conf.get("discovery_interval", 0))
    if sweep > 0:
        _every(stop, sweep, lambda: discovery.report(gateway), "discovery")
    print(f"gateway ready on {socket_path}", flush=True)
    stop.wait()
    gateway.flush()
    server.shutdown()
    server.server_close()
    if scrape is not None:
        scrape.shutdown()
        scrape.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    conf = settings(os.environ.get("TELECENTRE_GATEWAY_CONFIG", CONFIG_FILE))
    parser, p_run = daemon.command_line(
        "telecentre-gateway", __doc__, conf, DEFAULT_STATE_DIR,
        "identity, cache, sessions and spool", "enforce sessions until stopped",
    )  # fmt: skip
    p_run.add_argument("--lan-if", required=True, help="the visitors' interface")
    p_run.add_argument("--wan-if", required=True, help="the uplink interface")
    p_run.add_argument("--portal-port", type=int, required=True, help="the portal's HTTP port")
    args = parser.parse_args(argv)
    return daemon.start(args, cmd_enroll, cmd_run, conf)


if __name__ == "__main__":
    sys.exit(main())
