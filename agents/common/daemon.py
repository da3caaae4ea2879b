"""What the two agent daemons share: settings, the identity on disk, enrolment, the command line.

Standard library only: the endpoint agent imports this module.
"""

import argparse
import configparser
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from agents.common.client import ControllerError, Identity, enroll
from agents.common.spool import write_atomically

IDENTITY_FILE = "identity.json"


def read_config(path: str) -> configparser.ConfigParser:
    """The config file (missing is fine: everything has a default)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser


def settings(config: configparser.ConfigParser, section: str, prefix: str) -> dict[str, str]:
    """The config file's section overlaid with prefix* environment variables (lower-cased).

    `<prefix>CONFIG` names the config file itself and is not a setting.
    """
    values = dict(config[section]) if config.has_section(section) else {}
    values.update(
        {
            k[len(prefix) :].lower(): v
            for k, v in os.environ.items()
            if k.startswith(prefix) and k != prefix + "CONFIG"
        }
    )
    return values


def load_identity(state_dir: Path) -> Identity | None:
    """The enrolled identity, None when not enrolled, or SystemExit when the file is damaged."""
    path = state_dir / IDENTITY_FILE
    try:
        data = json.loads(path.read_text())
        return Identity(
            data["controller_url"], data["controller_id"], int(data["device_id"]), data["secret"]
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        raise SystemExit(f"{path} is damaged: enrol again") from None


def enrol(state_dir: Path, controller: str, token: str, about: dict, log: logging.Logger) -> int:
    """Exchange the office token for an identity, stored with owner-only permissions."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        identity = enroll(controller, token, about)
    except ControllerError as exc:
        log.error("enrolment failed: %s", exc)
        return 2
    data = json.dumps(identity._asdict(), indent=1).encode()
    write_atomically(state_dir / IDENTITY_FILE, data, mode=0o600)
    log.info("enrolled as device %s with %s", identity.device_id, identity.controller_url)
    print(f"Enrolled as device {identity.device_id}.")
    return 0


def command_line(
    prog: str, doc: str, conf: dict, state_dir: str, state_help: str, run_help: str
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The parser with `enroll` and `run` (both taking --state-dir and -v); returns (it, run)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        default=conf.get("state_dir", state_dir),
        help=f"{state_help} (default {state_dir})",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_enroll = sub.add_parser("enroll", parents=[common], help="join an office with a token")
    p_enroll.add_argument("--controller", required=True, help="controller URL, https://…")
    p_enroll.add_argument("--token", required=True, help="office enrolment token (tce_…)")
    return parser, sub.add_parser("run", parents=[common], help=run_help)


def start(args: argparse.Namespace, enroll_: Callable, run: Callable, conf: dict) -> int:
    """Set up logging and run the chosen command."""
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    return (enroll_ if args.command == "enroll" else run)(args, conf)
